"""`edge-icl run`: one policy on the edge-cloud offloading problem, into a run folder.

The default policy is the ICL agent (Zhou et al., papers/icl-task-offloading.txt,
section III) on the local default LLM; the oracle runs on the same seed, so the same
request stream, and stands beside it in the final table.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendError, BackendUnavailable
from agent.cli_app import app, err_console, fail, progress_bar, read_config
from agent.icl_setup import ICLChoices, build_icl_agent
from agent.prompting import PromptError
from agent.rollout import Rollout, policy_generator, run_policy
from agent.run_folder import RunFolder, run_name
from environment.offloading import OffloadingEnv
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
) -> None:
    """Run a policy on the edge-cloud offloading problem (ICL paper, eq. 4 and 10).

    Writes a run folder under OUT with config.yaml, steps.csv (one row per step, as it
    goes), transcript.jsonl (every LLM call) and summary.json.
    """
    if policy not in POLICIES:
        fail(f"--policy: unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    scenario_config = read_config(config)
    config_dump: dict[str, Any] = scenario_config.model_dump(mode="json")
    folder: RunFolder | None = None
    choices = ICLChoices(
        backend=backend, model=model, model_path=model_path, weights=weights, base_url=base_url, api=api, timeout_s=timeout, max_retries=max_retries, prompt=str(prompt) if prompt else None,
        pool=pool, pool_size=pool_size, exploration=exploration, epsilon=epsilon, decision_mode=decision_mode,
        fallback=fallback, relevant_examples=closest, calibrate=calibrate,
        pool_sample=pool_sample,
    )
    if policy == "icl":
        try:  # built before the run folder: bad input leaves no folder behind
            decision_maker = build_icl_agent(choices, seed, transcript=None)
        except (ValueError, PromptError, BackendUnavailable) as error:
            fail(str(error))
        folder = RunFolder(out, run_name("offloading", policy, seed))
        decision_maker.transcript = lambda record: folder.append_jsonl("transcript.jsonl", record)
        config_dump = {**config_dump, "icl": choices.as_dict()}
    else:
        decision_maker = reference_policy(policy, policy_generator(seed))
        folder = RunFolder(out, run_name("offloading", policy, seed))
    folder.write_config(config_dump)
    started = time.perf_counter()
    with progress_bar(disable=as_json) as progress:
        task = progress.add_task(policy, total=steps)

        def on_step(row: dict[str, Any]) -> None:
            folder.append_row(row)
            progress.advance(task)

        try:
            rollout = run_policy(decision_maker, OffloadingEnv(scenario_config), steps, seed, on_step=on_step)
        except BackendError as error:
            fail(str(error))
        finally:
            folder.close()
    summary = {**rollout.summary, **policy_facts(decision_maker), "seed": seed, "policy": policy, "config": config_dump}
    folder.write_json("summary.json", summary)
    folder.write_json("run.json", {"run_dir": str(folder.path), "wall_s": time.perf_counter() - started})
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    summaries = {policy: summary}
    if policy != "oracle":
        oracle: Rollout = run_policy(OraclePolicy(), OffloadingEnv(scenario_config), steps, seed)
        summaries["oracle (same stream)"] = oracle.summary
    Console().print(summary_table(f"offloading, seed {seed}, {steps} steps", summaries))
    err_console.print(f"run folder: {folder.path}")


def policy_facts(decision_maker: object) -> dict[str, Any]:
    """LLM facts for the summary: calls, parse failures, backend and model (zeros / None for the rest)."""
    stats = getattr(decision_maker, "stats", None)
    backend = getattr(decision_maker, "backend", None)
    facts: dict[str, Any] = {"llm_calls": 0, "parse_failures": 0, "backend": None, "model": None}
    if stats is not None and backend is not None:
        facts.update(stats.summary(), backend=backend.name, model=backend.model)
    return facts
