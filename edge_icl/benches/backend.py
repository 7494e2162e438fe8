"""`edge-icl bench backend`: decision latency with and without KV prefix reuse, and decision accuracy.

On a fixed experience pool (the best example per keyword combination, filled by the
oracle on a seeded stream) the ICL agent (Zhou et al., papers/icl-task-offloading.txt,
III) decides a fixed stream of queries by eq. (5)-(6) with the llama-cpp backend.
Latency: the same decisions with prefix reuse on and off, interleaved one by one so that
both see the same machine load; reported as medians. Accuracy: how often the decision
equals the oracle's (and the pool's decision for the same keywords), per prompt layout,
beside the agent's no-LLM baselines on the same pools and queries: `lookup` (the closest
good example's decision) and `bandit` (UCB1, trained on the requests that filled the pool,
deciding by its own plays). `--holdout F` keeps a seeded share F of the keyword
combinations out of the pools and the bandit's learning, and splits every accuracy into
seen and unseen states: where an LLM could beat retrieval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendUnavailable
from agent.backends.llama_cpp import LlamaCppBackend
from edge_icl.cli.app import bench_app, fail, progress_bar, read_config
from edge_icl.experiment.bench import held_out_states
from edge_icl.experiment.run_folder import dumps
from agent.experience import Keywords, PrioritizedPool, as_keywords
from agent.exploration import EpsilonGreedy, EpsilonSchedule
from agent.icl import ICLAgent
from agent.prompting import PromptError, TaskPrompt
from agent.settings import AgentSettings
from environment.config import MAX_SEEDS
from environment.offloading import DECISIONS, OffloadingEnv, OffloadingEnvConfig, OffloadingTask
from agent.baselines.bandit import ContextualBandit
from agent.baselines.lookup import LookupAgent
from environment.policy import AGENT_STREAM, EXPLORATION_STREAM, policy_generator


FILL_STEPS = 400  # requests the oracle plays to fill each pool


@dataclass(frozen=True)
class Query:
    """One request of the fixed query stream: its keywords and the oracle's action."""

    keywords: Keywords
    oracle_action: int


def offloading_states(config: OffloadingEnvConfig) -> list[Keywords]:
    """Every keyword combination of the offloading problem (service type x token level)."""
    env = OffloadingEnv(config)
    return [(("service_type", s), ("token_size", t)) for s in env.service_names for t in env.token_level_names]


def fixed_pool_and_queries(
    config: OffloadingEnvConfig, seed: int, fill_steps: int, n_queries: int, held_out: frozenset[Keywords] = frozenset()
) -> tuple[PrioritizedPool, list[Query]]:
    """A prioritized pool filled by the oracle over `fill_steps` requests (none of a `held_out` state), then the next `n_queries` requests."""
    env = OffloadingEnv(config)
    _, info = env.reset(seed=seed)
    pool = PrioritizedPool(capacity=64)
    task = OffloadingTask()
    queries: list[Query] = []
    for step in range(fill_steps + n_queries):
        keywords = as_keywords(task.keywords(info))
        action = int(info["oracle_action"])
        if step >= fill_steps:
            queries.append(Query(keywords, action))
        _, reward, _, truncated, step_info = env.step(action)
        if step < fill_steps and keywords not in held_out:
            pool.add(keywords, DECISIONS[action], reward, step_info["quality_met"], step)
        info = step_info if not truncated else env.reset()[1]
    return pool, queries


def agent_on_pool(
    backend: LlamaCppBackend | None, prompt: TaskPrompt, pool: PrioritizedPool, settings: AgentSettings, seed: int, kind: type[ICLAgent] = ICLAgent
) -> ICLAgent:
    """An ICL agent (or its `lookup` twin, with no backend) that never explores, deciding on the fixed pool."""
    exploration = EpsilonGreedy(EpsilonSchedule(kind="none"), policy_generator(seed, EXPLORATION_STREAM))
    return kind(prompt.task, backend, prompt, pool, exploration, policy_generator(seed, AGENT_STREAM), settings)


def seen_unseen(decided: list[int], queries: list[Query], held_out: frozenset[Keywords]) -> dict[str, float | None]:
    """Accuracy vs the oracle on queries of seen and of held-out states (empty without a holdout)."""
    if not held_out:
        return {}
    split: dict[str, float | None] = {}
    for name, unseen in (("accuracy_seen", False), ("accuracy_unseen", True)):
        hits = [d == q.oracle_action for d, q in zip(decided, queries) if (q.keywords in held_out) == unseen]
        split[name] = float(np.mean(hits)) if hits else None
    return split


def accuracy(agent: ICLAgent, pool: PrioritizedPool, queries: list[Query], held_out: frozenset[Keywords] = frozenset()) -> dict[str, Any]:
    """Decision accuracy vs the oracle and vs the pool's decision for the same keywords (seen / unseen with a holdout)."""
    pooled = {e.keywords: DECISIONS.index(e.decision) for e in pool.examples()}
    candidates = agent.task.candidates({})
    decided = []
    for q in queries:
        choice = agent.decide_by_llm(q.keywords, candidates)[0]
        decided.append(agent._fallback(candidates) if choice is None else choice)
    covered = [(d, pooled[q.keywords]) for d, q in zip(decided, queries) if q.keywords in pooled]
    return {
        "accuracy_vs_oracle": float(np.mean([d == q.oracle_action for d, q in zip(decided, queries)])),
        **seen_unseen(decided, queries, held_out),
        "copy_accuracy": float(np.mean([d == p for d, p in covered])) if covered else None,
        "median_ms": float(np.median(agent.stats.llm_latency_s) * 1000) if agent.stats.llm_latency_s else None,
        "fallback_share": agent.stats.fallback_count().share,  # agent/fallback_share.py; None for lookup (no LLM)
    }


def bandit_accuracy(config: OffloadingEnvConfig, seed: int, fill_steps: int, queries: list[Query], held_out: frozenset[Keywords]) -> dict[str, Any]:
    """The bandit plays the `fill_steps` requests that filled the pool (learning, except on held-out
    states), then decides the queries (the next requests of the same stream) without learning."""
    env, task = OffloadingEnv(config), OffloadingTask()
    bandit = ContextualBandit.from_settings(task, None, seed, held_out=held_out)
    observation, info = env.reset(seed=seed)
    decided = []
    for step in range(fill_steps + len(queries)):
        action = bandit.act(observation, info)
        if step >= fill_steps:
            decided.append(action)
        next_observation, reward, _, truncated, step_info = env.step(action)
        if step < fill_steps:
            bandit.observe(observation, info, action, reward, step_info)
        observation, info = (next_observation, step_info) if not truncated else env.reset()
    return {"accuracy_vs_oracle": float(np.mean([d == q.oracle_action for d, q in zip(decided, queries)])), **seen_unseen(decided, queries, held_out)}


def mean_accuracy(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Accuracies averaged over the pools, with each pool's own numbers."""
    first = next(iter(per_seed.values()))
    means: dict[str, Any] = {}
    for key in ("accuracy_vs_oracle", "accuracy_seen", "accuracy_unseen", "copy_accuracy", "fallback_share"):
        if key in first:
            values = [r[key] for r in per_seed.values() if r.get(key) is not None]
            means[key] = float(np.mean(values)) if values else None
    latencies = [r["median_ms"] for r in per_seed.values() if r.get("median_ms") is not None]
    if "median_ms" in first:
        means["median_ms"] = float(np.median(latencies)) if latencies else None
    return {**means, "per_seed": {str(s): r for s, r in per_seed.items()}}


@bench_app.command("backend")
def bench_backend(
    # At most 10,000 decisions per measurement (LLM calls at 0.1-1 s each on 2 cores).
    decisions: int = typer.Option(60, min=5, max=10_000, help="Decisions per measurement."),
    seed: int = typer.Option(0, help="Seed of the pool and query stream (the first one with --seeds)."),
    seeds: int = typer.Option(3, min=1, max=MAX_SEEDS, help="Pools (seeds seed, seed+1, ...) the accuracy is measured on; latency uses the first."),
    model_path: str | None = typer.Option(None, "--model-path", help="A GGUF file (default: bundled SmolLM2-135M)."),
    prompt: Path | None = typer.Option(None, "--prompt", help="Prompt folder (default prompts/offloading)."),
    weights: str | None = typer.Option(None, "--weights", help="f16 (default for the bundled model) | shipped (the GGUF as is)."),
    threads: int | None = typer.Option(None, help="llama.cpp threads (default: every core)."),
    config: Path | None = typer.Option(None, "--config", help="YAML config of the world."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    holdout: float = typer.Option(0.0, "--holdout", min=0.0, max=0.99, help="Share of keyword combinations held out of the pools and the bandit (unseen states)."),
) -> None:
    """ms and prompt tokens evaluated per decision, prefix reuse on vs off; accuracy vs the oracle."""
    scenario = read_config(config)
    try:
        offloading_prompt = TaskPrompt(prompt, OffloadingTask())
        backend = LlamaCppBackend(model_path=model_path, n_threads=threads, seed=seed, weights=weights)
    except (PromptError, BackendUnavailable) as error:
        fail(str(error))
    stream_seeds = list(range(seed, seed + seeds))
    states = offloading_states(scenario)
    held = {k: held_out_states(states, holdout, k) for k in stream_seeds}
    streams = {k: fixed_pool_and_queries(scenario, k, fill_steps=FILL_STEPS, n_queries=decisions, held_out=held[k]) for k in stream_seeds}
    pool, queries = streams[seed]
    # prompt layouts, each as settings for a pool of n examples
    layouts: dict[str, Callable[[int], AgentSettings]] = {
        "pool only": lambda n: AgentSettings(closest=0, calibrate=False),
        "pool only, calibrated": lambda n: AgentSettings(closest=0, calibrate=True),
        "closest example last": lambda n: AgentSettings(closest=1, calibrate=False),
        "closest example last, calibrated": lambda n: AgentSettings(closest=1, calibrate=True),
        "half the pool drawn per decision, closest last, calibrated": lambda n: AgentSettings(pool_sample=max(1, n // 2)),
    }
    results: dict[str, Any] = {
        "model": backend.model, "decisions": decisions, "pool_size": len(pool), "seed": seed, "accuracy_seeds": stream_seeds,
    }
    if holdout:
        results["holdout"] = {"fraction": holdout, "held_out": {str(k): [dict(s) for s in sorted(v)] for k, v in held.items()}}
    with progress_bar(disable=as_json) as progress:
        task = progress.add_task("reuse on/off", total=2 * decisions + len(layouts) * seeds * decisions)
        default = AgentSettings()
        candidates = offloading_prompt.task.candidates({})
        agent = agent_on_pool(backend, offloading_prompt, pool, default, seed)
        timings: dict[bool, list[tuple[float, int]]] = {True: [], False: []}
        for query in queries:
            for reuse in (True, False):
                backend.prefix_reuse = reuse
                started = time.perf_counter()
                rendered = agent.build_prompt(query.keywords, candidates)
                scores = backend.score(rendered.messages, offloading_prompt.answers(candidates))
                timings[reuse].append((time.perf_counter() - started, scores.evaluated_tokens or 0))
                progress.advance(task)
        backend.prefix_reuse = True
        for reuse, label in ((True, "reuse_on"), (False, "reuse_off")):
            results[label] = {
                "median_ms_per_decision": float(np.median([t for t, _ in timings[reuse]]) * 1000),
                "median_prompt_tokens_evaluated": float(np.median([n for _, n in timings[reuse]])),
            }
        results["latency_ratio_off_over_on"] = results["reuse_off"]["median_ms_per_decision"] / results["reuse_on"]["median_ms_per_decision"]
        results["settings_of_latency_runs"] = {"closest": default.closest, "calibrate": default.calibrate}
        results["accuracy"] = {}
        for name, layout in layouts.items():
            progress.update(task, description=name)
            per_seed = {}
            for pool_seed, (seed_pool, seed_queries) in streams.items():
                deciding = agent_on_pool(backend, offloading_prompt, seed_pool, layout(len(seed_pool)), pool_seed)
                per_seed[pool_seed] = accuracy(deciding, seed_pool, seed_queries, held[pool_seed])
                progress.advance(task, decisions)
            results["accuracy"][name] = mean_accuracy(per_seed)
        # the no-LLM baselines on the same pools and queries (the default settings' layout for lookup)
        results["baselines"] = {
            "lookup": mean_accuracy(
                {k: accuracy(agent_on_pool(None, offloading_prompt, p, default, k, LookupAgent), p, q, held[k]) for k, (p, q) in streams.items()}
            ),
            "bandit": mean_accuracy({k: bandit_accuracy(scenario, k, FILL_STEPS, q, held[k]) for k, (_, q) in streams.items()}),
        }
    if as_json:
        typer.echo(dumps(results, indent=2))
        return
    console = Console()
    table = Table(title=f"llama-cpp {backend.model}: {decisions} decisions, pool of {len(pool)}")
    for column in ("prefix reuse", "median ms/decision", "median prompt tokens evaluated"):
        table.add_column(column, justify="right")
    for label in ("reuse_on", "reuse_off"):
        table.add_row(label.split("_")[1], f"{results[label]['median_ms_per_decision']:.0f}", f"{results[label]['median_prompt_tokens_evaluated']:.0f}")
    console.print(table)
    console.print(f"latency ratio off/on: {results['latency_ratio_off_over_on']:.2f}")
    accuracy_table = Table(title=f"decision accuracy on fixed pools, mean over seeds {', '.join(map(str, stream_seeds))}")
    split = ("seen", "unseen") if holdout else ()
    for column in ("prompt layout", "vs oracle", *split, "per seed", "copies pool", "median ms"):
        accuracy_table.add_column(column, justify="right")
    rows = {**results["accuracy"], **{f"{name} (no LLM)": row for name, row in results["baselines"].items()}}
    for name, row in rows.items():
        cells = [f"{row['accuracy_vs_oracle']:.3f}", *(_cell(row.get(f"accuracy_{s}")) for s in split)]
        each = " ".join(f"{r['accuracy_vs_oracle']:.2f}" for r in row["per_seed"].values())
        accuracy_table.add_row(name, *cells, each, _cell(row.get("copy_accuracy")), _cell(row.get("median_ms"), "{:.0f}"))
    console.print(accuracy_table)


def _cell(value: float | None, form: str = "{:.3f}") -> str:
    return "-" if value is None else form.format(value)
