"""Running a sweep's cells: one cell in any process (`run_cell`), and the serial executor.

A cell is one `run_policy` rollout (edge_icl/experiment/rollout.py) of one policy on one world and
seed. `run_cell` never raises for the cell's own failure: it returns the cell's row with
`status: failed` and a one-line error, so the other cells go on. An LLM cell gets the
loaded backend of its executor (one model per backend and options, loaded once, reused by
every cell that names it); the agent puts it behind the LLM call cache itself
(`ICLAgent.from_settings`). The Ray executor lives in edge_icl/experiment/ray_executor.py.

The columns a cell adds after its settings (cells.csv):
status (ok, failed, or invalid: an ICL cell whose fallback made more than its
max_fallback_share of its LLM decisions, agent/fallback_share.py; it runs again on
resume), error; the problem's metrics (`task.metrics`); llm_decisions (decisions the
agent asked its LLM for), llm_calls (calls the model answered, calibration included),
cache_hits (calls answered from the cache), parse_failures, fallback_share (fallback
decisions / llm_decisions), backend, model; and the
timing columns, which differ from run to run: llm_median_latency_ms, saved_latency_s
(what the hits cost when they were made), wall_s, worker (host:pid).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.backends.base import LLMBackend
from agent.backends.registry import backend_spec, make_backend
from edge_icl.experiment.spec import AGENT_POLICIES, Cell
from agent.fallback_share import too_many
from agent.settings import AgentSettings

TIMING_COLUMNS = ("llm_median_latency_ms", "saved_latency_s", "wall_s", "worker")


@dataclass
class CellResult:
    """A finished cell: its row of cells.csv, its step rows and its transcript records (tagged)."""

    cell_id: str
    row: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.row["status"] == "ok"


ResultSink = Callable[[CellResult], None]
CellCallback = Callable[[Cell], None]


def one_line(error: BaseException) -> str:
    """An error as one line: its type and its message's first line."""
    text = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def build_backend(name: str, options: dict[str, Any], n_threads: int | None = None) -> LLMBackend:
    """The LLM cells with this backend and these options share, built once per executor worker.

    `n_threads`: the CPUs the worker holds, given to a backend that has an `n_threads`
    option the user left unset (llama.cpp otherwise spreads over every core of the node).
    The seed is 0: decoding is greedy, so the seed changes no decision, and one model
    serves every seed.
    """
    options = dict(options)
    if n_threads is not None and "n_threads" in backend_spec(name).options.model_fields and options.get("n_threads") is None:
        options["n_threads"] = n_threads
    return make_backend(name, options, seed=0)


def failed_result(cell: Cell, error: BaseException | str, started: float | None = None) -> CellResult:
    """The row of a cell that could not run."""
    row = {
        **cell.settings_row(),
        "status": "failed",
        "error": error if isinstance(error, str) else one_line(error),
        "wall_s": time.perf_counter() - started if started is not None else 0.0,
        "worker": worker_id(),
    }
    return CellResult(cell.cell_id, row)


def llm_columns(facts: dict[str, Any]) -> dict[str, Any]:
    """A policy's LLM facts (edge_icl.cli.run.policy_facts) as the table's columns."""
    return {
        "llm_decisions": facts.get("llm_calls", 0),
        "llm_calls": facts.get("model_calls", 0),
        "cache_hits": facts.get("cache_hits", 0),
        "parse_failures": facts.get("parse_failures", 0),
        "fallback_share": facts.get("fallback_share"),
        "backend": facts.get("backend") or "",
        "model": facts.get("model") or "",
        "llm_median_latency_ms": facts.get("llm_median_latency_ms"),
        "saved_latency_s": facts.get("saved_latency_s", 0.0),
    }


def run_cell(cell: Cell, backend: LLMBackend | None = None) -> CellResult:
    """Run one cell (its rollout from the cell's seed) and return its row, steps and transcript.

    `backend`: the loaded LLM of an LLM cell (None builds the one its settings name).
    Any error of the cell is caught and recorded in its row (status failed, one line).
    """
    # importing edge_icl.cli (the package) has imported every command module, so every
    # problem and policy has registered itself, in a Ray worker too
    from edge_icl.problems.registry import PROBLEMS
    from edge_icl.experiment.rollout import run_policy
    from edge_icl.cli.run import fallback_judged, policy_facts

    started = time.perf_counter()
    transcript: list[dict[str, Any]] = []
    tag = {"cell_id": cell.cell_id}
    policy = None
    rows: list[dict[str, Any]] = []
    try:
        problem = PROBLEMS[cell.problem]
        world = problem.config(cell.world)
        task = problem.task(world)
        if cell.agent is not None:
            settings = AgentSettings.model_validate(cell.agent)
            record = lambda entry: transcript.append({**tag, **entry})  # noqa: E731
            policy = AGENT_POLICIES[cell.policy].build(task, settings, cell.seed, backend, record)
        else:
            policy = problem.policies[cell.policy](cell.seed, world)
        run_policy(policy, problem.env(world), task, cell.steps, cell.seed, rows=rows)
        metrics = task.metrics(rows)
    except Exception as error:  # noqa: BLE001  a failed cell is recorded with its one line; the sweep goes on
        result = failed_result(cell, error, started)
        if policy is not None:
            result.row.update({k: v for k, v in llm_columns(policy_facts(policy)).items() if k not in result.row})
        return result
    settings_row = cell.settings_row()
    row = {**settings_row, "status": "ok", "error": "", **metrics, **llm_columns(policy_facts(policy))}
    judged = fallback_judged(policy)
    if judged is not None and not judged[0]().valid(judged[1]):  # written, but not a result of the LLM
        row.update(status="invalid", error=too_many(f"cell {cell.cell_id}", judged[0](), judged[1]))
    row.update(wall_s=time.perf_counter() - started, worker=worker_id())
    tags = {k: settings_row[k] for k in ("cell_id", "policy", "variant", "world", "seed")}
    return CellResult(cell.cell_id, row, [{**tags, **step} for step in rows], transcript)


def run_serial(cells: Sequence[Cell], on_result: ResultSink, on_start: CellCallback | None = None) -> None:
    """Run `cells` one after the other in this process; one backend per backend key, loaded when first needed.

    A backend that cannot be built fails each of its cells with the same line.
    """
    backends: dict[str, LLMBackend | BaseException] = {}
    for cell in cells:
        if on_start is not None:
            on_start(cell)
        backend = None
        if cell.uses_llm:
            key = cell.backend_key()
            if key not in backends:
                try:
                    backends[key] = build_backend(cell.agent["backend"], cell.agent["backend_options"])
                except Exception as error:  # noqa: BLE001  recorded per cell
                    backends[key] = error
            loaded = backends[key]
            if isinstance(loaded, BaseException):
                on_result(failed_result(cell, loaded))
                continue
            backend = loaded
        on_result(run_cell(cell, backend))
