"""`edge-icl run`: one policy on the edge-cloud offloading problem, into a run folder.

The default policy is the ICL agent (Zhou et al., papers/icl-task-offloading.txt,
section III) on the local default LLM; the oracle runs on the same seed, so the same
request stream, and stands beside it in the final table.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendError, BackendUnavailable
from agent.cli_app import app, err_console, fail, progress_bar, read_config
from agent.icl import ICLAgent
from agent.icl_setup import ICLChoices, build_icl_agent
from agent.prompting import PromptError
from agent.rollout import ResumeError, Rollout, policy_generator, run_policy, summarize
from agent.run_folder import RunFolder, check_out_dir, dumps, read_csv_rows, read_jsonl, run_name, write_jsonl
from environment.config import ConfigError, ScenarioConfig
from environment.config import scenario_config as scenario_config_of
from environment.offloading import OffloadingEnv
from solvers.policy import OffloadingPolicy
from solvers.reference import REFERENCE_POLICIES, OraclePolicy, reference_policy

POLICIES = ("icl", *REFERENCE_POLICIES)


def summary_table(title: str, summaries: dict[str, dict[str, Any]]) -> Table:
    """A rich table of run summaries, one row per policy."""
    table = Table(title=title)
    columns = [
        ("mean reward", "mean_reward"),
        ("oracle reward", "oracle_mean_reward"),
        ("mean delay (s)", "mean_delay_s"),
        ("quality success", "quality_success_rate"),
        ("accuracy vs oracle", "decision_accuracy"),
        ("offload share", "offload_share"),
        ("LLM calls", "llm_calls"),
        ("parse failures", "parse_failures"),
    ]
    table.add_column("policy")
    for header, _ in columns:
        table.add_column(header, justify="right")
    for name, summary in summaries.items():
        cells = [name]
        for _, key in columns:
            value = summary.get(key)
            cells.append("-" if value is None else (str(value) if isinstance(value, int) else f"{value:.3f}"))
        table.add_row(*cells)
    return table


@app.command()
def run(
    policy: str = typer.Option("icl", help=f"Decision maker: {' | '.join(POLICIES)}."),
    steps: int = typer.Option(50, min=1, help="Number of requests (environment steps)."),
    seed: int = typer.Option(0, help="Run seed: the same seed gives the same world and request stream."),
    config: Path | None = typer.Option(None, "--config", help="YAML config (sections radio, tasks, offloading)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout instead of a table."),
    backend: str = typer.Option("llama-cpp", help="ICL: LLM backend (see `edge-icl backends`)."),
    model: str | None = typer.Option(None, help="ICL: model name (openai: gpt-4o; langchain: module:ChatClass)."),
    model_path: str | None = typer.Option(None, "--model-path", help="ICL: a GGUF file (llama-cpp) or model folder (transformers)."),
    weights: str | None = typer.Option(None, "--weights", help="ICL, llama-cpp: f16 (an F16 copy, faster on CPUs) | shipped (the GGUF as is); default f16 for the bundled model, shipped for --model-path."),
    base_url: str | None = typer.Option(None, "--base-url", help="ICL: an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
    api: str | None = typer.Option(None, "--api", help="ICL, openai: completions (log-probs of the chat-template-rendered prompt, as llama-cpp scores it) | chat (top-20 first-token log-probs); default: completions where the server offers it."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="ICL, HTTP backends: seconds to wait for one reply."),
    max_retries: int = typer.Option(2, "--max-retries", min=0, help="ICL, HTTP backends: retries after a timeout, 429 or 5xx."),
    prompt: Path | None = typer.Option(None, "--prompt", help="ICL: a prompt folder (default prompts/offloading)."),
    pool: str = typer.Option("prioritized", help="ICL: experience pool, prioritized (III-B) | latest (baseline 1)."),
    pool_size: int = typer.Option(16, "--pool-size", min=1, help="ICL: most examples in the pool."),
    exploration: str = typer.Option("exponential", help="ICL: epsilon schedule, constant | linear | exponential | none."),
    epsilon: float = typer.Option(0.5, min=0.0, max=1.0, help="ICL: starting epsilon."),
    decision_mode: str = typer.Option("score", "--decision-mode", help="ICL: score (eq. 5-6) | generate (parse a reply)."),
    fallback: str = typer.Option("random", help="ICL: decision when a reply names none: random | local | offload."),
    closest: int = typer.Option(1, min=0, help="ICL: closest pool examples repeated next to the query, the best last."),
    calibrate: bool = typer.Option(True, "--calibrate/--no-calibrate", help="ICL: subtract each answer's score under a content-free query (score mode)."),
    pool_sample: int = typer.Option(0, "--pool-sample", min=0, help="ICL: show this many pool examples, drawn afresh per decision (0: the whole pool; no KV reuse)."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue the run in this run folder (stopped or killed): its steps are replayed without LLM calls, then it runs on to its last step. Other options are ignored: the folder's config.yaml holds them."),
) -> None:
    """Run a policy on the edge-cloud offloading problem (ICL paper, eq. 4 and 10).

    Writes a run folder under OUT with config.yaml (first), steps.csv (one row per step,
    as it goes), transcript.jsonl (every step of the ICL agent: its LLM call or its
    exploration) and summary.json. Ctrl-C writes summary.json for the steps done (exit
    130); `--resume RUN_DIR` continues a run that was stopped or killed.
    """
    if resume is not None:
        resume_run(resume, as_json)
        return
    if policy not in POLICIES:
        fail(f"--policy: unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    try:
        check_out_dir(out)
    except ValueError as error:
        fail(str(error))
    scenario_config = read_config(config)
    choices = ICLChoices(
        backend=backend, model=model, model_path=model_path, weights=weights, base_url=base_url, api=api, timeout_s=timeout, max_retries=max_retries, prompt=str(prompt) if prompt else None,
        pool=pool, pool_size=pool_size, exploration=exploration, epsilon=epsilon, decision_mode=decision_mode,
        fallback=fallback, relevant_examples=closest, calibrate=calibrate,
        pool_sample=pool_sample,
    )
    decision_maker = build_policy(policy, choices, seed)  # before the run folder: bad input leaves no folder
    folder = RunFolder(out, run_name("offloading", policy, seed))
    config_dump: dict[str, Any] = {
        "run": {"policy": policy, "steps": steps, "seed": seed},
        **scenario_config.model_dump(mode="json"),
        **({"icl": choices.as_dict()} if policy == "icl" else {}),
    }
    folder.write_config(config_dump)
    execute(folder, decision_maker, scenario_config, config_dump, as_json)


def build_policy(policy: str, choices: ICLChoices, seed: int) -> OffloadingPolicy:
    """The decision maker of `edge-icl run`; bad choices end the command with one line (exit 2)."""
    if policy != "icl":
        return reference_policy(policy, policy_generator(seed))
    try:
        agent = build_icl_agent(choices, seed, transcript=None)
    except (ValueError, PromptError, BackendUnavailable) as error:
        fail(str(error))
    agent.on_warning = lambda message: err_console.print(f"[bold yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
    return agent


def resume_run(path: Path, as_json: bool) -> None:
    """`edge-icl run --resume RUN_DIR`: replay the run's finished steps, then go on to its last step."""
    try:
        folder = RunFolder.existing(path)
        config_dump = folder.read_config()
        settings = config_dump.get("run")
        if not isinstance(settings, dict):
            raise ValueError(f"--resume: {path}/config.yaml has no run section (made before runs could resume)")
        world = {k: v for k, v in config_dump.items() if k not in ("run", "icl")}
        scenario_config = scenario_config_of(world)
    except (ValueError, ConfigError) as error:
        fail(str(error))
    policy, seed = settings["policy"], int(settings["seed"])
    choices = ICLChoices(**config_dump.get("icl", {}))
    decision_maker = build_policy(policy, choices, seed)
    execute(folder, decision_maker, scenario_config, config_dump, as_json, resuming=True)


def execute(
    folder: RunFolder, decision_maker: OffloadingPolicy, scenario_config: ScenarioConfig, config_dump: dict[str, Any], as_json: bool, resuming: bool = False
) -> None:
    """Run (or continue) the run of `folder`; write steps, transcript, summary.json and run.json.

    An LLM backend that fails for good ends the run with one line naming the folder; Ctrl-C
    writes the summary of the steps done and exits with 130.
    """
    settings = config_dump["run"]
    policy, steps, seed = settings["policy"], int(settings["steps"]), int(settings["seed"])
    done: list[dict[str, str]] = []
    records: dict[int, dict[str, Any]] = {}
    if resuming:
        done = read_csv_rows(folder.path / "steps.csv", truncate=True)
        if isinstance(decision_maker, ICLAgent):
            # a record is written before its row: keep the steps that have both
            kept = [r for r in read_jsonl(folder.path / "transcript.jsonl", truncate=True) if int(r.get("step", -1)) < len(done)]
            records = {int(r["step"]): r for r in kept}
            done = done[: next((s for s in range(len(done)) if s not in records), len(done))]
            write_jsonl(folder.path / "transcript.jsonl", [r for r in kept if int(r["step"]) < len(done)])
            rewrite_rows(folder.path / "steps.csv", done)
        if len(done) >= steps:
            err_console.print(f"{folder.path} already holds all {steps} steps; writing its summary", highlight=False, soft_wrap=True)
    if isinstance(decision_maker, ICLAgent):
        decision_maker.transcript = lambda record: folder.append_jsonl("transcript.jsonl", record)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    resume_hint = f"run folder {folder.path} keeps the steps done; continue with: edge-icl run --resume {folder.path}"
    with progress_bar(disable=as_json) as progress:
        task = progress.add_task(policy, total=steps, completed=len(done))

        def on_step(row: dict[str, Any]) -> None:
            folder.append_row(row)
            progress.advance(task)

        try:
            run_policy(decision_maker, OffloadingEnv(scenario_config), steps, seed, on_step=on_step, done=done, records=records, rows=rows)
        except BackendError as error:
            folder.close()
            fail(f"{error} ({resume_hint})")
        except ResumeError as error:
            folder.close()
            fail(f"--resume: {error}")
        except KeyboardInterrupt:
            folder.close()
            summary = {**summarize(rows), **policy_facts(decision_maker), "seed": seed, "policy": policy, "interrupted": True, "config": config_dump}
            folder.write_json("summary.json", summary)
            err_console.print(f"interrupted after {len(rows)} of {steps} steps; summary.json written; {resume_hint}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=130) from None
        finally:
            folder.close()
    summary = {**summarize(rows), **policy_facts(decision_maker), "seed": seed, "policy": policy, "config": config_dump}
    folder.write_json("summary.json", summary)
    folder.write_json("run.json", {"run_dir": str(folder.path), "wall_s": time.perf_counter() - started, "resumed_at_step": len(done) if resuming else None})
    if as_json:
        typer.echo(dumps(summary, indent=2))
        return
    summaries = {policy: summary}
    if policy != "oracle":
        oracle: Rollout = run_policy(OraclePolicy(), OffloadingEnv(scenario_config), steps, seed)
        summaries["oracle (same stream)"] = oracle.summary
    Console().print(summary_table(f"offloading, seed {seed}, {steps} steps", summaries))
    err_console.print(f"run folder: {folder.path}")


def rewrite_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """Keep only `rows` (with the header) in the CSV at `path`."""
    if not rows:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def policy_facts(decision_maker: object) -> dict[str, Any]:
    """LLM facts for the summary: calls, parse failures, backend and model (zeros / None for the rest)."""
    stats = getattr(decision_maker, "stats", None)
    backend = getattr(decision_maker, "backend", None)
    facts: dict[str, Any] = {"llm_calls": 0, "parse_failures": 0, "backend": None, "model": None}
    if stats is not None and backend is not None:
        facts.update(stats.summary(), backend=backend.name, model=backend.model)
    return facts
