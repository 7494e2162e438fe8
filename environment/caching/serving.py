"""How a slot's requests are served given the cache, and what that costs (least-AoT paper, III-D, IV-A).

The one cost model of the caching problem: the env (each policy's play), the offline
MILP and the tests all price a slot through `serve_model_slot` and `offload_to_cloud`,
and a whole cache schedule through `schedule_costs`.

Given which models are cached in a slot, models do not interact: a cached model serves
its own requests in arrival order (refreshing when its context window would overflow,
sending to the cloud what its energy budget (5) cannot compute), and the requests for
an uncached model go to the cloud. A schedule's cost is therefore a sum over models of
the cost of each stay in the cache, which the MILP uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from environment.caching.config import CachingConfig
from environment.caching.formulas import (
    CostParts,
    accuracy_cost,
    cloud_cost,
    computed_tokens,
    context_overflows,
    cot_accuracy,
    edge_inference_cost,
    energy_feasible,
    inference_flops,
    slot_energy_budget,
    switching_cost,
    transmission_cost,
)
from environment.caching.trace import RequestTrace


@dataclass(frozen=True)
class ServingTables:
    """Per-model and per-service constants of a config, as arrays (M models, I services)."""

    zero_shot: NDArray[np.float64]  # (M, I) a0_{m,i} of eq. (20)
    gain: NDArray[np.float64]  # (M, I) CoT gain of eq. (20)
    thoughts: NDArray[np.int64]  # (I,) K_i of eq. (18)
    prompt_tokens: NDArray[np.int64]  # (I,)
    output_tokens: NDArray[np.int64]  # (I,)
    flops_per_token: NDArray[np.float64]  # (M,) computation per token
    energy_budget: NDArray[np.float64]  # (M,) FLOPs per slot under (5)
    switching: NDArray[np.float64]  # (M,) l_m of eq. (21)
    cloud_process: NDArray[np.float64]  # (M,) p_m of eq. (26)
    window: NDArray[np.int64]  # (M,) W_m
    memory_gb: NDArray[np.float64]  # (M,) g_m of (3)
    capacity_gb: float
    vanishing_factor: float
    accuracy_base: float
    efficiency_flops_per_w: float
    energy_cost_per_kj: float
    accuracy_unit_cost: float
    edge_access_cost_per_mb: float
    cloud_access_cost_per_mb: float


def serving_tables(config: CachingConfig) -> ServingTables:
    """The arrays `serve_model_slot` reads, computed once per config."""
    zero_shot, gain = config.accuracy_tables()
    return ServingTables(
        zero_shot=zero_shot,
        gain=gain,
        thoughts=np.array([s.thoughts_per_request for s in config.services], dtype=np.int64),
        prompt_tokens=np.array([s.prompt_tokens for s in config.services], dtype=np.int64),
        output_tokens=np.array([s.output_tokens for s in config.services], dtype=np.int64),
        flops_per_token=np.array([m.flops_per_token for m in config.models]),
        energy_budget=np.array(
            [
                slot_energy_budget(m.memory_gb, config.gpu_memory_gb, config.gpu_power_w, config.gpu_efficiency_flops_per_w, config.slot_seconds)
                for m in config.models
            ]
        ),
        switching=np.array([m.switching_cost for m in config.models]),
        cloud_process=np.array([m.cloud_process_cost for m in config.models]),
        window=np.array([m.context_tokens for m in config.models], dtype=np.int64),
        memory_gb=np.array([m.memory_gb for m in config.models]),
        capacity_gb=config.memory_capacity_gb,
        vanishing_factor=config.vanishing_factor,
        accuracy_base=config.accuracy_base,
        efficiency_flops_per_w=config.gpu_efficiency_flops_per_w,
        energy_cost_per_kj=config.energy_cost_per_kj,
        accuracy_unit_cost=config.accuracy_unit_cost,
        edge_access_cost_per_mb=config.edge_access_cost_per_mb,
        cloud_access_cost_per_mb=config.cloud_access_cost_per_mb,
    )


@dataclass(frozen=True)
class ModelContext:
    """A cached model's context: AoT at the end of its last slot (eq. 19), thought tokens held."""

    aot: float = 0.0
    context_tokens: int = 0


@dataclass
class ServedSlot:
    """What serving one model's requests in one slot gave."""

    costs: CostParts = field(default_factory=CostParts)
    edge_served: int = 0
    energy_offloaded: int = 0
    refreshes: int = 0
    accuracy_sum: float = 0.0
    cot_gain_sum: float = 0.0  # sum over edge requests of A - a0, eq. (20)'s CoT term


def serve_model_slot(tables: ServingTables, model: int, trace: RequestTrace, requests: NDArray[np.int64], context: ModelContext) -> tuple[ModelContext, ServedSlot]:
    """Serve the slot's `requests` (indices into `trace`) on cached `model`, in arrival order.

    Each request, if the model's energy budget of (5) still holds its FLOPs (23), is
    served at the edge: when its thoughts would overflow the context window (28c) the
    model is refreshed first (reloaded: switching cost l_m, eq. 21; thoughts and AoT
    reset); it sees the AoT of the thoughts before it (nu x AoT of the last slot plus
    this slot's earlier thoughts, eq. 19), which sets its accuracy (20); it pays
    transmission (22), computing (23) and accuracy (24) costs, and adds its K_i thoughts
    (18). A request beyond the budget goes to the cloud (26). Returns the context at the
    slot's end, whose `aot` is AoT_{m,t} of eq. (19).
    """
    out = ServedSlot()
    running = tables.vanishing_factor * context.aot
    tokens = context.context_tokens
    used = 0.0
    budget = float(tables.energy_budget[model])
    window = int(tables.window[model])
    per_token = float(tables.flops_per_token[model])
    for j in requests.tolist():
        i, mb, added = int(trace.service[j]), float(trace.input_mb[j]), int(trace.thought_tokens[j])
        flops = inference_flops(computed_tokens(tables.prompt_tokens[i], added, tables.output_tokens[i]), per_token)
        if not energy_feasible(used + flops, budget):
            out.costs.cloud += cloud_cost(mb, tables.cloud_access_cost_per_mb, tables.cloud_process[model])
            out.energy_offloaded += 1
            continue
        used += flops
        if context_overflows(tokens, added, window):
            out.costs.switching += switching_cost(1, tables.switching[model])
            out.refreshes += 1
            tokens, running = 0, 0.0
        zero_shot = float(tables.zero_shot[model, i])
        accuracy = cot_accuracy(zero_shot, tables.gain[model, i], running, tables.accuracy_base)
        out.costs.transmission += transmission_cost(mb, tables.edge_access_cost_per_mb)
        out.costs.inference += edge_inference_cost(flops, tables.efficiency_flops_per_w, tables.energy_cost_per_kj)
        out.costs.accuracy += accuracy_cost(accuracy, tables.accuracy_unit_cost)
        out.edge_served += 1
        out.accuracy_sum += accuracy
        out.cot_gain_sum += accuracy - zero_shot
        running += float(tables.thoughts[i])
        tokens += added
    return ModelContext(aot=running, context_tokens=tokens), out


def offload_to_cloud(tables: ServingTables, model: int, input_mb: NDArray[np.float64]) -> CostParts:
    """The cost of sending the requests for an uncached `model` to the cloud, eq. (26)."""
    return CostParts(cloud=cloud_cost(input_mb, tables.cloud_access_cost_per_mb, tables.cloud_process[model]))


def load_cost(tables: ServingTables, model: int) -> CostParts:
    """The switching cost of loading an uncached model, eq. (21)."""
    return CostParts(switching=switching_cost(1, tables.switching[model]))


@dataclass
class ScheduleCost:
    """Per-slot cost parts and counts of a cache schedule (arrays are (T,))."""

    costs: list[CostParts]
    requests: NDArray[np.int64]
    hits: NDArray[np.int64]  # requests whose model was cached
    edge_served: NDArray[np.int64]
    miss_offloaded: NDArray[np.int64]
    energy_offloaded: NDArray[np.int64]
    loads: NDArray[np.int64]
    refreshes: NDArray[np.int64]
    memory_used_gb: NDArray[np.float64]
    cot_gain_sum: NDArray[np.float64]

    @property
    def total(self) -> float:
        return float(sum(c.total for c in self.costs))


def schedule_costs(tables: ServingTables, trace: RequestTrace, cached: NDArray[np.bool_]) -> ScheduleCost:
    """The cost of a whole cache schedule `cached` (M, T): x_{m,t} of constraint (3).

    A model cached at t and not at t - 1 (or at t = 0) is loaded at t (eq. 21) with an
    empty context; the serving of every slot follows `serve_model_slot`. The schedule
    is not checked against (3) here (see `formulas.memory_feasible`).
    """
    cached = np.asarray(cached, dtype=bool)
    per_model = trace.by_model_slot()
    T = trace.n_slots
    costs = [CostParts() for _ in range(T)]
    counts = {key: np.zeros(T, dtype=np.int64) for key in ("hits", "edge_served", "miss_offloaded", "energy_offloaded", "loads", "refreshes")}
    gains = np.zeros(T)
    for m in range(trace.n_models):
        context = ModelContext()
        for t in range(T):
            index = per_model[m][t]
            if not cached[m, t]:
                costs[t].add(offload_to_cloud(tables, m, trace.input_mb[index]))
                counts["miss_offloaded"][t] += index.size
                continue
            if t == 0 or not cached[m, t - 1]:
                costs[t].add(load_cost(tables, m))
                counts["loads"][t] += 1
                context = ModelContext()
            context, out = serve_model_slot(tables, m, trace, index, context)
            costs[t].add(out.costs)
            counts["hits"][t] += index.size
            counts["edge_served"][t] += out.edge_served
            counts["energy_offloaded"][t] += out.energy_offloaded
            counts["refreshes"][t] += out.refreshes
            gains[t] += out.cot_gain_sum
    return ScheduleCost(
        costs=costs,
        requests=np.bincount(trace.slot, minlength=T).astype(np.int64),
        memory_used_gb=tables.memory_gb @ cached,
        cot_gain_sum=gains,
        **counts,
    )
