"""Side-by-side benchmarks: every policy, several seeds, the same streams; the machinery every bench shares.

Each policy runs once per seed on that seed's stream (`runners[name](seed, steps,
on_row)`). Rows are appended to one tidy CSV as they are produced (one row per policy x
seed x step), so an interrupted bench keeps every finished step and `resume` completes
it; the metrics say how well and how fast each policy learns (Zhou et al.,
papers/icl-task-offloading.txt, section IV: reward, convergence).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table
from scipy import stats

from agent.backends.base import LLMBackend
from edge_icl.cli.app import fail_invalid, note
from edge_icl.experiment.run_folder import CsvAppender, read_csv_rows, read_jsonl, rewrite_csv, write_jsonl
from agent.experience import Keywords
from agent.fallback_share import FallbackCount, count_records, too_many_in
from agent.icl import ICLAgent, TranscriptSink
from agent.settings import AgentSettings
from environment.config import MAX_TOTAL_STEPS
from environment.decision_task import DecisionTask
from agent.baselines.registry import NO_LLM_BASELINES
from environment.policy import HOLDOUT_STREAM, Policy, policy_generator

RowCallback = Callable[[dict[str, Any]], None]
# (task, agent settings, seed, the bench's one LLM (built on first call), transcript) -> a fresh
# decision maker that learns as it plays: the ICL agent and its no-LLM baselines. A bench keeps
# them in a `LEARNERS` table by name (bench_caching.py, bench_auction.py).
LearnerFactory = Callable[[DecisionTask, AgentSettings, int, Callable[[], LLMBackend], TranscriptSink], Policy]
# Runs one policy on one seed's stream for so many steps, handing each row to the callback.
PolicyRunner = Callable[[int, int, RowCallback], None]
Metrics = Callable[[list[dict[str, Any]]], dict[str, float | None]]


@dataclass
class BenchSettings:
    """What a bench run compares; saved as `bench.json` so `--resume` repeats it exactly."""

    policies: list[str]
    seeds: list[int]
    steps: int
    agent: dict[str, Any] = field(default_factory=dict)  # AgentSettings of the ICL policies
    config: dict[str, Any] = field(default_factory=dict)  # the problem's config
    problem: str = "offloading"
    # Requests every policy plays before the recorded ones: {"steps": N, "config": the
    # world at the fill load} (Offloading-v1's unseen load levels); empty: none.
    fill: dict[str, Any] = field(default_factory=dict)
    holdout: float = 0.0  # share of keyword combinations held out of every learner's memory (unseen states)


def icl_agent(task: DecisionTask, settings: AgentSettings, seed: int, backend: Callable[[], LLMBackend], transcript: TranscriptSink) -> Policy:
    """The ICL agent (Zhou et al. III-A) on any decision problem, with the bench's LLM (a `LearnerFactory`)."""
    agent = ICLAgent.from_settings(task, settings, seed, backend=backend(), transcript=transcript)
    agent.on_warning = lambda message: note(f"warning: {message}", "bold yellow")
    return agent


def no_llm_learner(name: str) -> LearnerFactory:
    """The agent's no-LLM baseline `name` (agent.baselines.registry: lookup, bandit) as a `LearnerFactory`.

    Built from the same agent settings and seed as the ICL agent (same pool, same
    exploration stream), as bench association builds them; it never calls the backend.
    """
    return lambda task, settings, seed, backend, transcript: NO_LLM_BASELINES[name](task, settings, seed, transcript=transcript)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average; the first `window - 1` points average what exists so far."""
    cumulative = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.maximum(np.arange(1, len(values) + 1) - window, 0)]) / counts


def steps_to_fraction(rewards: np.ndarray, fraction: float = 0.95, window: int | None = None) -> int:
    """Environment steps until the moving-average reward first reaches `fraction` of the final reward.

    Final reward = mean over the last half of the run; the curve is the trailing moving
    average over `window` steps (default: a tenth of the run, at least 10), read only
    where the window is full, so a lucky first few steps do not count. For a negative
    final reward the threshold is final - (1 - fraction) |final|. Returns the 1-based step
    count (at least `window`); the run's length if the curve never gets there.
    """
    rewards = np.asarray(rewards, dtype=float)
    window = min(window or max(10, len(rewards) // 10), len(rewards))
    final = rewards[len(rewards) // 2 :].mean()
    threshold = final - (1.0 - fraction) * abs(final)
    curve = moving_average(rewards, window)[window - 1 :]
    reached = np.nonzero(curve >= threshold)[0]
    return int(reached[0]) + window if len(reached) else len(rewards)


def learning_metrics(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """How well and how fast one policy did on one seed: reward over the last half, accuracy vs the oracle, steps to 95%."""
    rewards = np.array([float(r["reward"]) for r in rows])
    has_oracle = bool(rows) and "oracle_action" in rows[0]
    return {
        "mean_reward_last_half": float(rewards[len(rewards) // 2 :].mean()),
        "decision_accuracy": float(np.mean([int(r["action"]) == int(r["oracle_action"]) for r in rows])) if has_oracle else None,
        "steps_to_95": float(steps_to_fraction(rewards)),
    }


def held_out_states(states: Sequence[Keywords], fraction: float, seed: int) -> frozenset[Keywords]:
    """A seeded choice of `fraction` of the keyword combinations `states` (at least one when fraction > 0).

    The same seed holds out the same states for every policy (stream HOLDOUT_STREAM of
    the seed); their experiences never enter a pool and a bandit never learns from them.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--holdout: need a fraction in [0, 1), got {fraction}")
    if fraction == 0.0 or not states:
        return frozenset()
    count = min(len(states) - 1, max(1, int(round(fraction * len(states)))))
    chosen = policy_generator(seed, HOLDOUT_STREAM).choice(len(states), size=count, replace=False)
    return frozenset(states[i] for i in sorted(chosen))


def split_accuracy(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Decision accuracy vs the oracle on seen and on held-out (unseen) states; rows carry `held_out` (0/1)."""
    if not rows or "held_out" not in rows[0] or "oracle_action" not in rows[0]:
        return {}
    result: dict[str, float | None] = {}
    for name, flag in (("decision_accuracy_seen", 0), ("decision_accuracy_unseen", 1)):
        hits = [int(r["action"]) == int(r["oracle_action"]) for r in rows if int(r["held_out"]) == flag]
        result[name] = float(np.mean(hits)) if hits else None
    return result


def paired_difference(first: dict[int, float | None], second: dict[int, float | None]) -> dict[str, Any]:
    """first - second, paired by seed: mean, standard deviation and 95% t-interval over the seeds both have."""
    seeds = sorted(s for s in first if s in second and first[s] is not None and second[s] is not None)
    diffs = np.array([float(first[s]) - float(second[s]) for s in seeds])  # type: ignore[arg-type]
    if diffs.size == 0:
        return {"mean": None, "std": None, "ci95": None, "seeds": 0, "per_seed": {}}
    std = float(diffs.std(ddof=1)) if diffs.size > 1 else None
    half = float(stats.t.ppf(0.975, diffs.size - 1) * std / math.sqrt(diffs.size)) if std is not None else None
    mean = float(diffs.mean())
    return {
        "mean": mean,
        "std": std,
        "ci95": [mean - half, mean + half] if half is not None else None,
        "seeds": int(diffs.size),
        "per_seed": {str(s): float(d) for s, d in zip(seeds, diffs)},
    }


def llm_lift(
    groups: dict[tuple[str, int], list[dict[str, Any]]],
    metrics: Metrics,
    keys: Iterable[str],
    icl: str = "icl",
    lookup: str = "lookup",
) -> dict[str, dict[str, Any]]:
    """LLM lift = ICL - lookup per metric, paired by seed (`paired_difference`); {} when either did not run."""
    per_seed = {name: {seed: metrics(rows) for (policy, seed), rows in groups.items() if policy == name} for name in (icl, lookup)}
    if not per_seed[icl] or not per_seed[lookup]:
        return {}
    return {
        key: paired_difference({s: m.get(key) for s, m in per_seed[icl].items()}, {s: m.get(key) for s, m in per_seed[lookup].items()})
        for key in keys
    }


def lift_table(title: str, lift: dict[str, dict[str, Any]]) -> Table:
    """LLM lift = ICL - lookup per metric: mean, std and 95% interval over seeds (paired by seed)."""
    out = Table(title=title)
    for column in ("metric", "mean", "std", "95% interval", "per seed"):
        out.add_column(column, justify="right")
    for metric, d in lift.items():
        if d["mean"] is None:
            continue
        interval = "-" if d["ci95"] is None else f"[{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"
        out.add_row(metric, f"{d['mean']:+.3f}", "-" if d["std"] is None else f"{d['std']:.3f}", interval, " ".join(f"{v:+.2f}" for v in d["per_seed"].values()))
    return out


def aggregate(
    groups: dict[tuple[str, int], list[dict[str, Any]]], policies: Iterable[str], metrics: Metrics = learning_metrics
) -> dict[str, dict[str, float | None]]:
    """Mean of each metric over the seeds of each policy, in `policies` order."""
    table: dict[str, dict[str, float | None]] = {}
    for policy in policies:
        per_seed = [metrics(rows) for (name, _), rows in sorted(groups.items()) if name == policy]
        if not per_seed:
            continue
        table[policy] = {
            key: (float(np.mean(values)) if (values := [m[key] for m in per_seed if m[key] is not None]) else None)
            for key in per_seed[0]
        }
        table[policy]["seeds"] = len(per_seed)
    return table


def judge_fallbacks(
    table: dict[str, dict[str, Any]],
    records: Iterable[dict[str, Any]],
    limit: float,
    row_of: Callable[[dict[str, Any]], str | None] = lambda record: record.get("policy"),
    unit_of: Callable[[dict[str, Any]], str] = lambda record: f"{record.get('policy')} seed {record.get('seed')}",
) -> list[tuple[str, FallbackCount]]:
    """Mark the rows of a bench table whose policy asked an LLM: `fallback_share` over all their LLM decisions
    (agent/fallback_share.py) and `valid`, false when one of their units (by default each seed's run) let the
    fallback make more than `limit` of its decisions. `records` are the bench's transcript lines, so groups
    finished before a `--resume` count too; `row_of` names a line's table row. Returns the invalid units."""
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}  # row -> unit -> its LLM lines
    for record in records:
        row = row_of(record)
        if row in table and record.get("llm_call"):
            grouped.setdefault(row, {}).setdefault(unit_of(record), []).append(record)
    invalid: list[tuple[str, FallbackCount]] = []
    for row, units in grouped.items():
        counts = {name: count_records(lines) for name, lines in units.items()}
        bad = [(name, count) for name, count in counts.items() if not count.valid(limit)]
        total = sum(counts.values(), FallbackCount())
        table[row].update(fallback_share=total.share, valid=not bad)
        invalid += bad
    return invalid


def row_label(name: str, values: dict[str, Any]) -> str:
    """A bench table's row name, marked when its result is not valid (`judge_fallbacks`)."""
    return f"{name} (not valid)" if values.get("valid") is False else name


def end_if_invalid(where: str, invalid: list[tuple[str, FallbackCount]], limit: float) -> None:
    """After a bench has written everything: one line and exit 3 when some of its results are not valid."""
    if invalid:
        fail_invalid(too_many_in(where, invalid, limit) + " (summary.json marks their rows valid: false)")


class BenchCSV:
    """The tidy CSV of a bench run: read what exists, drop unfinished groups, append new rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._appender = CsvAppender(path)

    def load(self) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """The rows written so far by (policy, seed); a line torn by a kill is dropped."""
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for row in read_csv_rows(self.path):
            groups.setdefault((row["policy"], int(row["seed"])), []).append(row)
        return groups

    def rewrite(self, groups: dict[tuple[str, int], list[dict[str, Any]]]) -> None:
        """Keep only `groups` (the finished ones) in the file, in the order of `groups`; atomically, so a
        kill while rewriting loses no finished row (`rewrite_csv`)."""
        self._appender.close()
        rewrite_csv(self.path, [row for key in groups for row in groups[key]])

    def append(self, row: dict[str, Any]) -> None:
        self._appender.append(row)

    def close(self) -> None:
        self._appender.close()


def check_bench_size(steps: int, how: str) -> None:
    """ValueError (one line) when a bench would play more than MAX_TOTAL_STEPS steps.

    A bench holds every row of every policy and seed in memory until its summary, so
    the bound is on their product (`how` says it, e.g. "3 policies x 100 seeds x 1,000 steps").
    """
    if steps > MAX_TOTAL_STEPS:
        raise ValueError(f"{how} = {steps:,} steps exceed the most a bench holds, {MAX_TOTAL_STEPS:,}: use fewer seeds, steps or policies")


def save_settings(run_dir: Path, settings: BenchSettings) -> None:
    (run_dir / "bench.json").write_text(json.dumps(asdict(settings), indent=2) + "\n")


def load_settings(run_dir: Path) -> BenchSettings:
    path = run_dir / "bench.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} holds no bench.json: not a bench run folder")
    return BenchSettings(**json.loads(path.read_text()))


def group_order(settings: BenchSettings) -> list[tuple[str, int]]:
    """The (policy, seed) groups in the order a bench runs and writes them: seed by seed, the policies in order."""
    return [(name, seed) for seed in settings.seeds for name in settings.policies]


def run_bench(
    run_dir: Path,
    settings: BenchSettings,
    runners: dict[str, PolicyRunner],
    on_group_start: Callable[[str, int], None] | None = None,
    on_row: RowCallback | None = None,
    expected_rows: Callable[[str, int], int] | None = None,
) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Run every (policy, seed) group not finished yet in `run_dir`; return all groups, in the bench's order.

    `runners[name]` runs one policy; rows are tagged with policy and seed and appended to
    `steps.csv` one by one. A group is finished when it holds `settings.steps` rows, or
    `expected_rows(policy, seed)` where a run's length is not its step count (a run of
    whole episodes of varying length).

    The bench's order is seed by seed, the policies in `settings.policies` order
    (`group_order`); steps.csv and transcript.jsonl always hold their groups in it. So a
    resumed bench writes the same bytes as one never stopped, wherever the kill landed:
    the finished groups that lead that order are kept (in it), and every group from the
    first unfinished one on runs again from its start, its rows and records dropped first.
    (A bench killed once has no finished group after an unfinished one: it writes in this
    order; a folder rewritten in another order by an older version is brought back to it.)
    """
    table = BenchCSV(run_dir / "steps.csv")
    expected = expected_rows or (lambda name, seed: settings.steps)
    order = group_order(settings)
    written = table.load()
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for key in order:
        if len(written.get(key, ())) != expected(*key):
            break
        groups[key] = written[key]
    table.rewrite(groups)
    transcript = run_dir / "transcript.jsonl"
    if transcript.exists():  # an unfinished group is rerun from its start: its records go too
        position = {key: i for i, key in enumerate(order)}
        kept = [r for r in read_jsonl(transcript) if (r.get("policy"), r.get("seed")) in groups]
        write_jsonl(transcript, sorted(kept, key=lambda r: position[(r["policy"], r["seed"])]))  # stable: steps stay in order
    try:
        for name, seed in order[len(groups) :]:
            if on_group_start is not None:
                on_group_start(name, seed)
            produced: list[dict[str, Any]] = []

            def record(row: dict[str, Any], name: str = name, seed: int = seed, produced: list = produced) -> None:
                tagged = {"policy": name, "seed": seed, **row}
                table.append(tagged)
                produced.append({k: str(v) for k, v in tagged.items()})
                if on_row is not None:
                    on_row(tagged)

            runners[name](seed, settings.steps, record)
            groups[(name, seed)] = produced
    finally:
        table.close()
    return groups
