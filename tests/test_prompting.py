"""Prompt templates run sandboxed (agent/prompting.py): a template cannot reach Python, and the
packaged prompts render the very text they rendered under a plain Jinja environment."""

import shutil
from pathlib import Path

import jinja2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.problems.registry import PROBLEMS
from agent.experience import PrioritizedPool, as_keywords, most_relevant
from agent.prompting import PromptError, TaskPrompt, default_prompt_dir

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent

# Ways out of a plain Jinja environment to os.popen; FILE is replaced by a path to touch.
ESCAPES = {
    "cycler": "{{ cycler.__init__.__globals__.os.popen('touch FILE').read() }}",
    "lipsum": "{{ lipsum.__globals__['os'].popen('touch FILE').read() }}",
    "mro": (
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == '_wrap_close' %}"
        "{{ c.__init__.__globals__['popen']('touch FILE').read() }}{% endif %}{% endfor %}"
    ),
    "attr-filter": "{{ ((cycler|attr('__init__'))|attr('__globals__'))['os'].popen('touch FILE').read() }}",
    "format": "{{ '{0.__init__.__globals__[os].popen}'.format(cycler) }}",
}


class PlainTaskPrompt(TaskPrompt):
    """The templates in the plain, unsandboxed Jinja environment the project used before."""

    environment_class = jinja2.Environment


def offloading_task():
    return PROBLEMS["offloading"].task(PROBLEMS["offloading"].load_config(None))


def escaping_folder(tmp_path: Path, template: str, payload: str) -> tuple[Path, Path]:
    folder = tmp_path / "variant"
    shutil.copytree(default_prompt_dir(), folder)
    marker = tmp_path / "escaped"
    (folder / template).write_text((folder / template).read_text() + "\n" + payload.replace("FILE", str(marker)))
    return folder, marker


@pytest.mark.parametrize("name", ["cycler", "lipsum", "mro"])
def test_the_escapes_are_real_under_a_plain_environment(tmp_path, name):
    folder, marker = escaping_folder(tmp_path, "system.j2", ESCAPES[name])
    PlainTaskPrompt(folder, offloading_task())
    assert marker.exists()  # the payload runs a shell command where templates are not sandboxed


@pytest.mark.parametrize("template", ["system.j2", "example.j2", "query.j2", "user.j2"])
@pytest.mark.parametrize("name", list(ESCAPES))
def test_a_template_that_reaches_for_python_is_a_one_line_prompt_error_and_runs_nothing(tmp_path, name, template):
    folder, marker = escaping_folder(tmp_path, template, ESCAPES[name])
    with pytest.raises(PromptError) as error:
        TaskPrompt(folder, offloading_task())
    message = str(error.value)
    assert len(message.splitlines()) == 1 and str(folder / template) in message
    assert not marker.exists()


def test_the_cli_stops_such_a_prompt_folder_with_one_line(tmp_path):
    folder, marker = escaping_folder(tmp_path, "system.j2", ESCAPES["cycler"])
    result = runner.invoke(app, ["run", "--prompt", str(folder), "--steps", "2", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "system.j2" in line and "unsafe" in line
    assert not marker.exists() and not (tmp_path / "runs").exists()


def real_states(problem_name: str, steps: int = 14):
    """(pool, closest, keywords, candidates) of the first `steps` states of a problem's world,
    the pool filled by random decisions as the agent's observe fills it."""
    problem = PROBLEMS[problem_name]
    world = problem.load_config(None)
    task, env = problem.task(world), problem.env(world)
    pool, rng = PrioritizedPool(16), np.random.default_rng(0)
    _, info = env.reset(seed=0)
    for step in range(steps):
        keywords, candidates = as_keywords(task.keywords(info)), task.candidates(info)
        yield pool.examples(), most_relevant(pool.examples(), keywords, 1), keywords, candidates
        chosen = candidates[int(rng.integers(len(candidates)))]
        _, _, terminated, truncated, step_info = env.step(chosen.action)
        feedback = task.feedback(step_info)
        pool.add(keywords, chosen.label, feedback.reward, feedback.constraint_met, step, tuple(chosen.features.items()))
        if terminated or truncated:
            _, step_info = env.reset()
        info = step_info


PACKAGED = [(name, None) for name in PROBLEMS] + [("offloading", ROOT / "examples" / "prompts" / "offloading-terse")]


@pytest.mark.parametrize(("problem_name", "folder"), PACKAGED, ids=[f"{n}-{f.name if f else 'packaged'}" for n, f in PACKAGED])
def test_the_packaged_prompts_render_the_same_text_in_the_sandbox(problem_name, folder):
    task = PROBLEMS[problem_name].task(PROBLEMS[problem_name].load_config(None))
    sandboxed, plain = TaskPrompt(folder, task), PlainTaskPrompt(folder, task)
    assert sandboxed.system == plain.system
    assert [sandboxed.answer(d) for d in task.decisions] == [plain.answer(d) for d in task.decisions]
    rendered = 0
    for pool, closest, keywords, candidates in real_states(problem_name):
        ours, theirs = sandboxed.render(pool, closest, keywords, candidates), plain.render(pool, closest, keywords, candidates)
        assert ours.messages == theirs.messages and ours.stable == theirs.stable and ours.variable == theirs.variable
        rendered += bool(pool)
    assert rendered > 0  # states with pool examples were compared, not only the empty pool
