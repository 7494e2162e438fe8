"""Eviction policies for edge model caching: least-AoT and its rivals (Xu et al., IV-C, VI-B).

papers/cached-model-least-aot.txt. Online policies read only the facts of a decision
point (`info["candidates"]` of `CachingEnv`), the facts a text face shows an LLM:

- least-AoT, eq. (29): when memory is short, evict the cached model with the lowest AoT
  (one per decision; the env asks again while the needed model does not fit, so the
  greedy fills (29)'s knapsack by increasing AoT, the linear-time rule of IV-C);
- FIFO (earliest loaded), LFU (fewest requests so far), LRU (least recently requested),
  the paper's baselines (VI-B) and the textbook third.

Every online policy protects the models requested in the current slot (their requests
would go to the cloud now): it chooses among the others and bypasses when there are
none. Offline references see the whole request trace:

- Belady: evict the model whose next request is furthest in the future;
- `optimal_schedule`: the exact minimum of the cost (27) over the horizon, a MILP over
  each model's stays in the cache (scipy.optimize.milp / HiGHS), for small instances.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from environment.caching.env import CachingEnv
from environment.caching.serving import ModelContext, ServingTables, load_cost, offload_to_cloud, serve_model_slot
from environment.caching.trace import RequestTrace


class EvictionPolicy(Protocol):
    """Chooses an action of `CachingEnv` at a decision point."""

    name: str

    def act(self, info: dict[str, Any], env: CachingEnv) -> int: ...


def unprotected(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The cached models not requested in the current slot: the ones worth evicting."""
    return [c for c in info["candidates"] if c["requests_this_slot"] == 0]


@dataclass(frozen=True)
class RulePolicy:
    """Evict the unprotected cached model with the smallest `key`; bypass if none."""

    name: str
    key: Callable[[dict[str, Any]], Any]

    def decide(self, info: dict[str, Any], bypass_action: int) -> int:
        """The action at the decision point `info` describes."""
        candidates = unprotected(info)
        if not candidates:
            return bypass_action
        return int(min(candidates, key=lambda c: (self.key(c), c["model"]))["model"])

    def act(self, info: dict[str, Any], env: CachingEnv) -> int:
        return self.decide(info, env.bypass_action)


@dataclass(frozen=True)
class RuleAsPolicy:
    """An online eviction rule as a `environment.policy.Policy` (act(observation, info), observe).

    The rules read only `info`, so they run wherever a `Policy` runs (`edge-icl run
    --problem caching --policy least-aot`). Belady cannot: it reads the env's whole trace.
    """

    rule: RulePolicy

    @property
    def name(self) -> str:
        return self.rule.name

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        return self.rule.decide(info, len(info["action_mask"]) - 1)  # bypass is the last action

    def observe(self, observation: Any, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        """The rules do not learn."""


def least_aot() -> RulePolicy:
    """Least-AoT, eq. (29): evict the cached model with the lowest AoT (19)."""
    return RulePolicy("least-aot", lambda c: c["aot"])


def fifo() -> RulePolicy:
    """First in, first out: evict the model loaded earliest."""
    return RulePolicy("fifo", lambda c: c["entered_slot"])


def lfu() -> RulePolicy:
    """Least frequently used: evict the model with the fewest requests since the episode began."""
    return RulePolicy("lfu", lambda c: c["total_requests"])


def lru() -> RulePolicy:
    """Least recently used: evict the model whose last request is oldest."""
    return RulePolicy("lru", lambda c: c["last_request_slot"])


@dataclass(frozen=True)
class Belady:
    """Offline: evict the model needed furthest in the future (never again: first).

    Ties go to the larger model (it frees more memory). Reads the env's whole trace.
    """

    name: str = "belady"

    def act(self, info: dict[str, Any], env: CachingEnv) -> int:
        candidates = unprotected(info)
        if not candidates:
            return env.bypass_action
        counts = env.trace.counts()
        slot = info["slot"]

        def next_request(model: int) -> float:
            later = np.flatnonzero(counts[model, slot + 1 :])
            return float(slot + 1 + later[0]) if later.size else np.inf

        return int(max(candidates, key=lambda c: (next_request(c["model"]), c["memory_gb"], -c["model"]))["model"])


POLICIES: dict[str, Callable[[], EvictionPolicy]] = {
    "least-aot": least_aot,
    "fifo": fifo,
    "lfu": lfu,
    "lru": lru,
    "belady": Belady,
}
# The online rules: they read only a decision point's `info` (RuleAsPolicy makes them `Policy` objects).
RULES: dict[str, Callable[[], RulePolicy]] = {"least-aot": least_aot, "fifo": fifo, "lfu": lfu, "lru": lru}
ONLINE = tuple(RULES)


# ------------------------------------------------------------------- exact optimum


@dataclass(frozen=True)
class OptimalSchedule:
    """The MILP's optimum: the cache schedule x_{m,t} and its cost."""

    cached: NDArray[np.bool_]  # (M, T)
    objective: float
    n_variables: int
    solve_s: float
    mip_gap: float  # HiGHS's relative gap: 0 when proven optimal, > 0 if the time limit hit
    lower_bound: float  # HiGHS's dual bound on the least cost (= objective when proven optimal)


@contextmanager
def _c_stdout_silenced() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null: scipy's HiGHS prints debug lines from C++
    ("HighsMipSolverData::transformNewIntegerFeasibleSolution ...") that would break
    `--json` output, whatever its `disp` option."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def stay_costs(tables: ServingTables, trace: RequestTrace, model: int) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """For one model: its request slots R, and for s <= e in R the cost of one stay.

    Returns (R, stay, cloud): stay[a, b] is the cost (27) of loading the model at R[a]
    and keeping it cached to R[b] (eq. 21 load, then `serve_model_slot` each slot),
    cloud[a] the cost of sending the requests of slot R[a] to the cloud (26).
    """
    per_slot = trace.by_model_slot()[model]
    slots = np.array([t for t in range(trace.n_slots) if per_slot[t].size], dtype=np.int64)
    cloud = np.array([offload_to_cloud(tables, model, trace.input_mb[per_slot[t]]).total for t in slots])
    stay = np.full((slots.size, slots.size), np.nan)
    for a, start in enumerate(slots):
        context, total, b = ModelContext(), load_cost(tables, model).total, a
        for t in range(int(start), trace.n_slots):
            index = per_slot[t]
            context, out = serve_model_slot(tables, model, trace, index, context)
            total += out.costs.total
            if b < slots.size and slots[b] == t:
                stay[a, b] = total
                b += 1
            if b == slots.size:
                break
    return slots, stay, cloud


def optimal_schedule(tables: ServingTables, trace: RequestTrace, time_limit_s: float | None = None) -> OptimalSchedule:
    """The least total cost (27) of any cache schedule under (3), by a MILP (HiGHS).

    Given the cache schedule, models do not interact (see `environment.caching.serving`),
    so the cost is a sum over each model's stays in the cache. A binary y_{m,s,e} loads
    m at slot s and keeps it to slot e (s, e slots where m has requests: starting later
    or leaving earlier than that never costs more and frees memory); its coefficient is
    the exact cost of the stay (load, serving with AoT, refreshes, the energy budget),
    minus the cloud cost its slots avoid. So the MILP optimises the very cost the env
    charges, AoT and accuracy included, with no linearisation: exact, and a lower bound
    on every policy of the env (which must load a needed model when memory allows and
    decides only at shortages). Variables grow as M x |R|^2: small instances.
    """
    rows_memory, rows_model, cols, coefs, cloud_total = [], [], [], [], 0.0
    var_model, var_start, var_end = [], [], []
    for m in range(trace.n_models):
        slots, stay, cloud = stay_costs(tables, trace, m)
        cloud_total += float(cloud.sum())
        saved = np.concatenate([[0.0], np.cumsum(cloud)])
        for a in range(slots.size):
            for b in range(a, slots.size):
                var_model.append(m)
                var_start.append(int(slots[a]))
                var_end.append(int(slots[b]))
                coefs.append(stay[a, b] - (saved[b + 1] - saved[a]))
    n = len(coefs)
    if n == 0:
        return OptimalSchedule(np.zeros((trace.n_models, trace.n_slots), dtype=bool), cloud_total, 0, 0.0, 0.0, cloud_total)
    var_model, var_start, var_end = np.array(var_model), np.array(var_start), np.array(var_end)
    lengths = var_end - var_start + 1
    column = np.repeat(np.arange(n), lengths)
    covered = np.concatenate([np.arange(s, e + 1) for s, e in zip(var_start, var_end)])
    memory = tables.memory_gb[var_model]
    T = trace.n_slots
    # (3) memory: sum_m g_m x_{m,t} <= capacity at every slot.
    memory_rows = coo_matrix((memory[column], (covered, column)), shape=(T, n))
    # One stay at a time per model, and no reload in the slot after an eviction (the env
    # reloads an evicted model a slot later at the earliest): at each slot t, the stays
    # covering t plus the stay ending at t - 1 are at most one.
    stay_rows = coo_matrix(
        (
            np.ones(column.size + n),
            (np.concatenate([var_model[column] * (T + 1) + covered, var_model * (T + 1) + var_end + 1]), np.concatenate([column, np.arange(n)])),
        ),
        shape=(trace.n_models * (T + 1), n),
    )
    constraints = [
        LinearConstraint(memory_rows.tocsr(), -np.inf, tables.capacity_gb),
        LinearConstraint(stay_rows.tocsr(), -np.inf, 1.0),
    ]
    # mip_rel_gap 0: solved to proven optimality unless the time limit stops it first.
    options: dict[str, float] = {"mip_rel_gap": 0.0} if time_limit_s is None else {"mip_rel_gap": 0.0, "time_limit": time_limit_s}
    started = time.perf_counter()
    with _c_stdout_silenced():
        result = milp(np.asarray(coefs), constraints=constraints, integrality=np.ones(n), bounds=Bounds(0, 1), options=options)
    solve_s = time.perf_counter() - started
    if result.x is None:
        raise RuntimeError(f"caching MILP found no schedule: {result.message}")
    if result.status != 0 and time_limit_s is None:
        raise RuntimeError(f"caching MILP not solved to optimality: {result.message}")
    chosen = np.flatnonzero(result.x > 0.5)
    cached = np.zeros((trace.n_models, T), dtype=bool)
    for v in chosen:
        cached[var_model[v], var_start[v] : var_end[v] + 1] = True
    gap = float(getattr(result, "mip_gap", 0.0) or 0.0)
    bound = getattr(result, "mip_dual_bound", None)
    lower = cloud_total + (float(bound) if bound is not None else float(result.fun))
    return OptimalSchedule(cached=cached, objective=cloud_total + float(result.fun), n_variables=n, solve_s=solve_s, mip_gap=gap, lower_bound=lower)
