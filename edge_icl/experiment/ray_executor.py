"""The Ray executor of `edge-icl sweep` (optional: `pip install 'edge-icl[ray]'`).

`ray.init()` with no address starts a local single-node Ray on this machine; `--address`
(or RAY_ADDRESS) joins a running cluster, whose nodes need edge-icl installed. The LLM
cells run on long-lived actors (`CellWorker`), each of which loads its model once,
holds `actor_cpus` CPUs and gives llama.cpp that many threads (`n_threads`; llama.cpp
otherwise takes every core of the node and the actors oversubscribe it). An actor runs
its cells one at a time, so one model is never called from two threads. Cells that need
no LLM run as plain Ray tasks of one CPU each.

Scheduling: the LLM cells are grouped by backend and options; each group gets its own
actors (as many as the cluster's CPUs hold, at most one per cell), which are killed when
the group is done, so an actor only ever holds one model. Each idle actor is handed the
next cell (the work of `ray.util.ActorPool`, done here by hand so that a failed call is
known by its cell: an actor that dies fails its cell, is restarted once by Ray, and is
dropped after a second death).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from typing import Any

from edge_icl.experiment.engine import CellCallback, CellResult, ResultSink, build_backend, failed_result, one_line, run_cell
from edge_icl.experiment.spec import Cell

# Driver settings the workers must share, sent with every call (a worker of a running
# cluster does not inherit the driver's environment).
FORWARDED_ENV = ("EDGE_ICL_CACHE",)
RAY_MISSING = "--executor ray needs Ray: pip install 'edge-icl[ray]' (or run the sweep with --executor serial)"


class RayMissing(RuntimeError):
    """Ray is not installed; the message says how to install it."""


def require_ray() -> Any:
    """The `ray` module, or RayMissing with the line that says what to install."""
    try:
        import ray
    except ImportError:
        raise RayMissing(RAY_MISSING) from None
    return ray


def cluster_address(address: str | None = None) -> str | None:
    """The cluster to join: `address`, else RAY_ADDRESS; None for a new local Ray."""
    return address or os.environ.get("RAY_ADDRESS") or None


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Start a local Ray (`num_cpus`, default all) or join the cluster at `address` / RAY_ADDRESS,
    unless this process has one already; return whether it was started here (then shut it down).

    With neither, the Ray is a new one even when another is running on this machine
    (`address="local"`: a bare `ray.init()` would join the last `ray start` cluster here).
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    joined = cluster_address(address)
    # log_to_driver=False: the workers' output would land on this process's stdout (--json)
    ray.init(
        address=joined or "local", num_cpus=None if joined else num_cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
    )
    return True


def _apply(env: dict[str, str]) -> None:
    os.environ.update(env)


class CellWorker:
    """A Ray actor that owns one LLM backend and runs the cells that use it, one at a time.

    Parameters
    ----------
    backend, options: the backend's registry name and options (the cells' own).
    n_threads: the actor's CPUs, passed to the backend as its thread count.
    env: the driver's FORWARDED_ENV.
    """

    def __init__(self, backend: str, options: dict[str, Any], n_threads: int, env: dict[str, str]) -> None:
        _apply(env)
        self.error: str | None = None
        self.backend = None
        try:
            self.backend = build_backend(backend, options, n_threads)
        except Exception as error:  # noqa: BLE001  each of its cells is recorded as failed with this line
            self.error = one_line(error)

    def run(self, cell: Cell, env: dict[str, str]) -> CellResult:
        _apply(env)
        if self.error is not None:
            return failed_result(cell, self.error)
        return run_cell(cell, self.backend)


def run_plain(cell: Cell, env: dict[str, str]) -> CellResult:
    """A cell without an LLM, as a Ray task."""
    _apply(env)
    return run_cell(cell)


def run_ray(
    cells: Sequence[Cell],
    on_result: ResultSink,
    on_start: CellCallback | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    actor_cpus: int = 1,
    max_actors: int | None = None,
) -> dict[str, Any]:
    """Run `cells` on Ray; `on_result` gets each finished cell in the driver, as it finishes.

    Uses the Ray already initialized in this process if there is one (and leaves it
    running); else starts a local one (`num_cpus`: its CPUs, default all) or joins the
    cluster at `address` / RAY_ADDRESS, and shuts it down at the end. Returns facts about
    the cluster (CPUs, actors per group) for the summary.
    """
    ray = require_ray()
    started_here = init_ray(address, num_cpus)
    env = {key: os.environ[key] for key in FORWARDED_ENV if key in os.environ}
    worker_class = ray.remote(max_restarts=1, max_task_retries=0)(CellWorker)
    plain_task = ray.remote(max_retries=0)(run_plain)
    in_flight: dict[Any, tuple[Cell, Any]] = {}  # future -> (cell, the actor running it, None for a task)
    created: list[Any] = []
    facts: dict[str, Any] = {}
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        facts.update(ray_address=ray.get_runtime_context().gcs_address, ray_cpus=cpus, actor_cpus=actor_cpus, actors=[])
        for cell in cells:
            if not cell.uses_llm:
                if on_start is not None:
                    on_start(cell)
                in_flight[plain_task.options(num_cpus=1).remote(cell, env)] = (cell, None)
        groups: dict[str, list[Cell]] = {}
        for cell in cells:
            if cell.uses_llm:
                groups.setdefault(cell.backend_key(), []).append(cell)
        for group in groups.values():
            count = min(len(group), max_actors or max(1, cpus // actor_cpus))
            facts["actors"].append(count)
            agent = group[0].agent or {}
            workers = [
                worker_class.options(num_cpus=actor_cpus).remote(agent.get("backend"), agent.get("backend_options", {}), actor_cpus, env)
                for _ in range(count)
            ]
            created += workers
            _run_group(ray, group, workers, in_flight, env, on_result, on_start)
            for worker in workers:
                ray.kill(worker)
        while in_flight:
            _collect(ray, in_flight, on_result)
    finally:
        for future, (_, worker) in in_flight.items():
            if worker is None:
                ray.cancel(future, force=True)
        for worker in created:
            ray.kill(worker)
        if started_here:
            ray.shutdown()
    return facts


def _collect(ray: Any, in_flight: dict[Any, tuple[Cell, Any]], on_result: ResultSink) -> tuple[Any, bool]:
    """Wait for one call to finish, hand its result on; return its actor (None for a task) and whether it died."""
    (future,), _ = ray.wait(list(in_flight), num_returns=1)
    cell, worker = in_flight.pop(future)
    try:
        result = ray.get(future)
        died = False
    except ray.exceptions.RayError as error:  # the worker died (or the task was lost): the cell fails, the sweep goes on
        result = failed_result(cell, f"worker lost: {one_line(error)}")
        died = True
    on_result(result)
    return worker, died


def _run_group(
    ray: Any,
    group: list[Cell],
    workers: list[Any],
    in_flight: dict[Any, tuple[Cell, Any]],
    env: dict[str, str],
    on_result: ResultSink,
    on_start: CellCallback | None,
) -> None:
    """Hand each idle actor the group's next cell until every cell has a result (plain tasks finish meanwhile)."""
    queue = deque(group)
    idle = list(workers)
    deaths = {id(worker): 0 for worker in workers}

    def busy() -> bool:
        return any(worker is not None for _, worker in in_flight.values())

    while queue or busy():
        while idle and queue:
            worker, cell = idle.pop(), queue.popleft()
            if on_start is not None:
                on_start(cell)
            in_flight[worker.run.remote(cell, env)] = (cell, worker)
        if not idle and not busy():  # every actor died twice: the rest cannot run here
            while queue:
                on_result(failed_result(queue.popleft(), "every LLM worker of this backend died"))
            return
        worker, died = _collect(ray, in_flight, on_result)
        if worker is None:
            continue
        deaths[id(worker)] = deaths[id(worker)] + 1 if died else 0
        if deaths[id(worker)] < 2:
            idle.append(worker)
