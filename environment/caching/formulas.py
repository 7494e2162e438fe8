"""The formulas of the least-AoT caching paper, each once.

Xu et al., "Cached Model-as-a-Resource" (papers/cached-model-least-aot.txt), sections
III-C, III-D and IV-A. Our copy lost the formulas; these are the team's reconstruction
from the prose (issue 14), each function naming the equation it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike

COST_PARTS: tuple[str, ...] = ("switching", "transmission", "inference", "accuracy", "cloud")


@dataclass
class CostParts:
    """The five parts of the provisioning cost: eq. (21)-(24) at the edge, (26) at the cloud."""

    switching: float = 0.0
    transmission: float = 0.0
    inference: float = 0.0
    accuracy: float = 0.0
    cloud: float = 0.0

    @property
    def edge(self) -> float:
        """Eq. (25): the edge inference cost."""
        return edge_cost(self.switching, self.transmission, self.inference, self.accuracy)

    @property
    def total(self) -> float:
        """Eq. (27): edge plus cloud cost."""
        return total_cost(self.edge, self.cloud)

    def add(self, other: "CostParts") -> None:
        """Add `other` part by part, in place."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def as_dict(self) -> dict[str, float]:
        """The five parts by name (COST_PARTS order)."""
        return {name: float(getattr(self, name)) for name in COST_PARTS}


# ------------------------------------------------------------------ III-D: thoughts


def new_thoughts(served_requests: ArrayLike, thoughts_per_request: ArrayLike) -> float:
    """Thoughts k_{m,t} added to a model in a slot, eq. (18): sum_i K_i x b_{i,m,t}.

    `served_requests` (I,) are the requests of each service served on m in the slot,
    `thoughts_per_request` (I,) the K_i. The model's count of thoughts is this added up
    while it stays cached, so it never decreases (eq. 18) until a load resets it.
    """
    return float(np.dot(np.asarray(served_requests, dtype=float), np.asarray(thoughts_per_request, dtype=float)))


def age_of_thought(thoughts: ArrayLike, vanishing_factor: float) -> float:
    """Age of thought, eq. (19): AoT_{m,t} = sum_{tau=t0..t} nu^(t - tau) k_{m,tau}.

    `thoughts` holds k_{m,tau} for the slots tau = t0..t since m was loaded (oldest
    first); nu is the vanishing factor.
    """
    k = np.asarray(thoughts, dtype=float)
    if k.size == 0:
        return 0.0
    weights = vanishing_factor ** np.arange(k.size - 1, -1, -1, dtype=float)
    return float(np.dot(weights, k))


def next_age_of_thought(previous: float, added: float, vanishing_factor: float) -> float:
    """Eq. (19) one slot on: AoT_{m,t} = nu AoT_{m,t-1} + k_{m,t} (the sum's recursion)."""
    return vanishing_factor * previous + added


def context_overflows(context_tokens: float, added_tokens: float, window_tokens: float) -> bool:
    """Constraint (28c) about to break: the thoughts in context plus new ones exceed W_m.

    When it does, the refresh rule (IV intro: "the model needs to be refreshed, i.e., to
    evict the old model and load another fresh model") reloads the model first.
    """
    return context_tokens + added_tokens > window_tokens


def cot_accuracy(zero_shot: ArrayLike, gain: ArrayLike, aot: ArrayLike, accuracy_base: float) -> np.ndarray | float:
    """Few-shot CoT accuracy, eq. (20): A_{m,i,t} = a0_{m,i} + G_{m,i} (1 - c^AoT_{m,t}).

    c in (0, 1) is the geometric rate of eq. (15); AoT = 0 gives the zero-shot accuracy.
    """
    value = np.asarray(zero_shot, dtype=float) + np.asarray(gain, dtype=float) * (1.0 - accuracy_base ** np.asarray(aot, dtype=float))
    return float(value) if value.ndim == 0 else value


# --------------------------------------------------------------- IV-A: cost parts


def switching_cost(loads: ArrayLike, coefficient: ArrayLike) -> float:
    """Switching cost, eq. (21): sum_m l_m x 1[m loaded while uncached] (refreshes count).

    `loads` (M,) counts the loads of each model in the slot, `coefficient` (M,) is l_m.
    """
    return float(np.dot(np.asarray(loads, dtype=float), np.asarray(coefficient, dtype=float)))


def transmission_cost(input_mb: ArrayLike, unit_cost_per_mb: float) -> float:
    """Transmission cost, eq. (22): unit cost x input size of the requests served at the edge."""
    return float(unit_cost_per_mb * np.sum(np.asarray(input_mb, dtype=float)))


def computed_tokens(prompt_tokens: ArrayLike, thought_tokens: ArrayLike, output_tokens: ArrayLike) -> np.ndarray | float:
    """Tokens computed for a request, the batch tokens of eq. (23): prompt + its thoughts + answer."""
    value = np.asarray(prompt_tokens, dtype=float) + np.asarray(thought_tokens, dtype=float) + np.asarray(output_tokens, dtype=float)
    return float(value) if value.ndim == 0 else value


def inference_flops(tokens: ArrayLike, flops_per_token: ArrayLike) -> np.ndarray | float:
    """FLOPs of an edge inference, eq. (23): computed tokens x computation per token."""
    value = np.asarray(tokens, dtype=float) * np.asarray(flops_per_token, dtype=float)
    return float(value) if value.ndim == 0 else value


def edge_inference_cost(flops: ArrayLike, efficiency_flops_per_w: float, cost_per_kj: float) -> float:
    """Edge computing cost, eq. (23): the GPU energy of the FLOPs (J = FLOPs / (FLOPS/W)) x price."""
    return float(np.sum(np.asarray(flops, dtype=float)) / efficiency_flops_per_w / 1e3 * cost_per_kj)


def accuracy_cost(accuracy: ArrayLike, unit_cost: float) -> float:
    """Accuracy cost, eq. (24): unit cost x (1 - A_{m,i,t}) summed over the requests served at the edge."""
    return float(unit_cost * np.sum(1.0 - np.asarray(accuracy, dtype=float)))


def edge_cost(switching: float, transmission: float, inference: float, accuracy: float) -> float:
    """Edge inference cost, eq. (25): switching + transmission + computing + accuracy."""
    return switching + transmission + inference + accuracy


def cloud_cost(input_mb: ArrayLike, access_cost_per_mb: float, process_cost: ArrayLike) -> float:
    """Cloud cost, eq. (26): per offloaded request, access cost x input size + p_m."""
    mb = np.asarray(input_mb, dtype=float)
    return float(access_cost_per_mb * np.sum(mb) + np.sum(np.broadcast_to(np.asarray(process_cost, dtype=float), mb.shape)))


def total_cost(edge: float, cloud: float) -> float:
    """Total provisioning cost of the BS, eq. (27): edge + cloud."""
    return edge + cloud


# ------------------------------------------------------------------ constraints


def memory_feasible(cached: ArrayLike, memory_gb: ArrayLike, capacity_gb: float) -> bool:
    """Caching constraint (3): sum_m g_m x_{m,t} <= GPU memory of the BS (tiny float slack)."""
    used = float(np.dot(np.asarray(cached, dtype=float), np.asarray(memory_gb, dtype=float)))
    return used <= capacity_gb * (1 + 1e-12)


def slot_energy_budget(memory_gb: float, gpu_memory_gb: float, gpu_power_w: float, efficiency_flops_per_w: float, slot_seconds: float) -> float:
    """FLOPs a cached model may compute in one slot under the energy constraint (5).

    Our reading of (5) (total power of the edge servers <= power capacity of the GPUs),
    split per model: a model may draw the power of the GPUs its memory occupies,
    g_m / GPU memory x 300 W, for one slot. As cached models fit (3), their sum stays
    within the BS's capacity, so (5) holds whenever each model keeps its budget.
    """
    return memory_gb / gpu_memory_gb * gpu_power_w * efficiency_flops_per_w * slot_seconds


def energy_feasible(flops: float, budget_flops: float) -> bool:
    """Constraint (5) for one model in one slot: computed FLOPs within its budget."""
    return flops <= budget_flops
