"""Side-by-side benchmarks: every policy, several seeds, the same streams; the machinery every bench shares.

Each policy runs once per seed on that seed's stream (`runners[name](seed, steps,
on_row)`). Rows are appended to one tidy CSV as they are produced (one row per policy x
seed x step), so an interrupted bench keeps every finished step and `resume` completes
it; the metrics say how well and how fast each policy learns (Zhou et al.,
papers/icl-task-offloading.txt, section IV: reward, convergence).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.backends.base import LLMBackend
from agent.cli.app import note
from agent.cli.run_folder import CsvAppender, read_csv_rows, read_jsonl, write_jsonl
from agent.icl import ICLAgent, TranscriptSink
from agent.settings import AgentSettings
from environment.decision_task import DecisionTask
from solvers.policy import Policy

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


def icl_agent(task: DecisionTask, settings: AgentSettings, seed: int, backend: Callable[[], LLMBackend], transcript: TranscriptSink) -> Policy:
    """The ICL agent (Zhou et al. III-A) on any decision problem, with the bench's LLM (a `LearnerFactory`)."""
    agent = ICLAgent.from_settings(task, settings, seed, backend=backend(), transcript=transcript)
    agent.on_warning = lambda message: note(f"warning: {message}", "bold yellow")
    return agent


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
        """Keep only `groups` (the finished ones) in the file."""
        rows = [row for key in sorted(groups) for row in groups[key]]
        self._appender.close()
        self.path.unlink(missing_ok=True)
        for row in rows:
            self.append(row)

    def append(self, row: dict[str, Any]) -> None:
        self._appender.append(row)

    def close(self) -> None:
        self._appender.close()


def save_settings(run_dir: Path, settings: BenchSettings) -> None:
    (run_dir / "bench.json").write_text(json.dumps(asdict(settings), indent=2) + "\n")


def load_settings(run_dir: Path) -> BenchSettings:
    path = run_dir / "bench.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} holds no bench.json: not a bench run folder")
    return BenchSettings(**json.loads(path.read_text()))


def run_bench(
    run_dir: Path,
    settings: BenchSettings,
    runners: dict[str, PolicyRunner],
    on_group_start: Callable[[str, int], None] | None = None,
    on_row: RowCallback | None = None,
) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Run every (policy, seed) group not finished yet in `run_dir`; return all groups.

    `runners[name]` runs one policy; rows are tagged with policy and seed and appended to
    `steps.csv` one by one.
    """
    table = BenchCSV(run_dir / "steps.csv")
    groups = {key: rows for key, rows in table.load().items() if len(rows) == settings.steps}
    table.rewrite(groups)
    transcript = run_dir / "transcript.jsonl"
    if transcript.exists():  # an unfinished group is rerun from its start: its records go too
        write_jsonl(transcript, [r for r in read_jsonl(transcript) if (r.get("policy"), r.get("seed")) in groups])
    try:
        for seed in settings.seeds:
            for name in settings.policies:
                if (name, seed) in groups:
                    continue
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
