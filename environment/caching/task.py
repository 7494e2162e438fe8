"""The caching problem's text face for the LLM agent (`DecisionTask`): which cached model to evict.

Xu et al., "Cached Model-as-a-Resource" (papers/cached-model-least-aot.txt), IV-C: when
a requested model does not fit the GPU memory (3), a cached model is evicted; least-AoT
(eq. 29) evicts the one with the lowest age of thought (19). Here the ICL agent of Zhou
et al. (papers/icl-task-offloading.txt, III-A) makes that choice at each decision point
of `CachingEnv`:

- keywords x of eq. (8), binned into a few levels so that the prioritized pool holds
  one best example per kind of decision and generalises across slots: `room` (can one
  idle cached model free enough memory, several together, or not even all of them),
  the `needed` model's family (its size: LLaMA-65B 156 GB, GPT-3-175B 420 GB) and its
  `demand` in this slot. Most telling first: the pool's relevance counts matching
  fields from the first;
- candidates: every cached model (label = its name, action = its index, features = its
  AoT (19), context fill, requests in the last slots and in this slot, memory size)
  and "bypass" (this slot's requests for the needed model go to the cloud);
- feedback (step 3 of III-A): minus the cost (27) per slot until the next decision,
  and a constraint check of ours, see `CachingTask.feedback`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from environment.caching.config import CachingConfig
from environment.caching.formulas import COST_PARTS
from environment.decision_task import Candidate, Feedback

BYPASS = "bypass"
# `room`: how much of the memory shortfall the idle cached models (no request in this slot) cover.
ROOM_LEVELS = ("one eviction", "several evictions", "idle too small")
# `demand`: the needed model's requests in this slot.
DEMAND_LEVELS = ("1 request", "2+ requests")
NO_DECISION = "none"  # keyword values when the episode holds no decision at all


def room_level(needed_gb: float, free_gb: float, idle_gb: Sequence[float], capacity_gb: float) -> str:
    """Which of ROOM_LEVELS: one idle model frees enough memory for the needed one, only several together, or not all of them.

    The same float slack as `formulas.memory_feasible`, so "one eviction" means that evicting
    that model lets the env load the needed one.
    """
    shortfall = needed_gb - free_gb - capacity_gb * 1e-12
    if idle_gb and max(idle_gb) >= shortfall:
        return ROOM_LEVELS[0]
    if sum(idle_gb) >= shortfall:
        return ROOM_LEVELS[1]
    return ROOM_LEVELS[2]


def demand_level(requests: int) -> str:
    """Which of DEMAND_LEVELS the needed model's requests in this slot fall in."""
    return DEMAND_LEVELS[0] if requests <= 1 else DEMAND_LEVELS[1]


def cost_per_slot_served(step_info: Mapping[str, Any]) -> float:
    """Minus the cost (27) charged from a decision to the next, per slot served in between.

    The env's reward is the whole cost up to the next decision, which grows with the
    number of slots until then (1 to 7 at the default setting: -30 to -226): a decision
    whose eviction brings the next decision sooner would look better. Per slot served
    (at least one), rewards of different decisions compare.
    """
    parts = step_info["cost_parts"]
    return -float(sum(parts[k] for k in COST_PARTS)) / max(1, len(step_info["slots_done"]))


class CachingTask:
    """Eviction at a ground BS (least-AoT paper, IV-C) as a `DecisionTask`.

    Parameters
    ----------
    config: the caching config (its model names are the labels); None for the paper's defaults.
    """

    name = "caching"
    # Content-free query for calibration (Zhao et al. 2021, "Calibrate before use").
    content_free = {"room": "N/A", "needed": "N/A", "demand": "N/A"}

    def __init__(self, config: CachingConfig | None = None) -> None:
        config = config or CachingConfig()
        self.model_names: tuple[str, ...] = tuple(m.name for m in config.models)
        self.decisions: tuple[str, ...] = (*self.model_names, BYPASS)
        self.bypass_action = len(self.model_names)

    def keywords(self, info: Mapping[str, Any]) -> dict[str, str]:
        """x of eq. (8): room (memory pressure against the idle models), the needed model's family, its demand."""
        needed = info["needed"]
        if needed is None:  # an episode without any decision: only bypass is open
            return {"room": NO_DECISION, "needed": NO_DECISION, "demand": NO_DECISION}
        idle = [c["memory_gb"] for c in info["candidates"] if c["requests_this_slot"] == 0]
        return {
            "room": room_level(needed["memory_gb"], info["free_memory_gb"], idle, info["memory_capacity_gb"]),
            "needed": needed["family"],
            "demand": demand_level(needed["requests_this_slot"]),
        }

    def candidates(self, info: Mapping[str, Any]) -> Sequence[Candidate]:
        """Every cached model the action mask lets go (evict it), then bypass; a model's features are what least-AoT, LRU and LFU read.

        With the default config every cached model is open; with `evict_requested=False`
        the models requested in this slot are not.
        """
        mask = info["action_mask"]
        evictions = [
            Candidate(
                c["name"],
                int(c["model"]),
                {
                    "aot": float(c["aot"]),
                    "fill": float(c["context_fill"]),
                    "recent": int(c["recent_requests"]),
                    "now": int(c["requests_this_slot"]),
                    "size_gb": float(c["memory_gb"]),
                },
            )
            for c in info["candidates"]
            if mask[c["model"]]
        ]
        return [*evictions, Candidate(BYPASS, self.bypass_action)]

    def feedback(self, step_info: Mapping[str, Any]) -> Feedback:
        """Reward = `cost_per_slot_served`; the constraint: the decision kept the slot's edge service and its slot was served.

        Ours (the env enforces (3) and (5), so they always hold):
        - no model requested in this slot was evicted (its requests would go to the
          cloud): our reading of the service constraint (4), requests served by the
          models cached for them;
        - the decision's slot was served before the next decision. When another decision
          follows in the same slot (the eviction freed too little, or a second requested
          model does not fit), the env has charged only loads so far (0 to -17.5, against
          about -30 per served slot): such a decision would look best and the
          prioritized pool would keep it, whatever it chose. The decision that completes
          the slot earns the slot's cost. (38% of least-AoT's and 40% of FIFO's decisions at the default
          setting, seed 1, are followed by another in their slot.)
        A decision that fails either is evaluated bad: kept out of the prioritized pool.
        """
        decision = step_info.get("decision")
        kept_service = decision is None or decision["evicted_requests"] == 0
        slot_served = len(step_info["slots_done"]) > 0
        return Feedback(cost_per_slot_served(step_info), bool(kept_service and slot_served))

    def row(self, step: int, action: int, reward: float, step_info: Mapping[str, Any]) -> dict[str, Any]:
        """One decision: what it did, then the cost (27) and its parts charged until the next decision."""
        decision = step_info.get("decision") or {}
        slots = step_info["slots_done"]
        feedback = self.feedback(step_info)
        parts = {k: float(step_info["cost_parts"][k]) for k in COST_PARTS}
        needed = decision.get("needed")
        return {
            "step": step,
            "slot": decision.get("slot"),
            "needed": None if needed is None else self.model_names[needed],
            "action": action,
            "decision": self.decisions[action] if 0 <= action < len(self.decisions) else str(action),
            "bypass": int(bool(decision.get("bypass", True))),
            "evicted_requests": int(decision.get("evicted_requests", 0)),
            "needed_loaded": int(bool(decision.get("needed_loaded", False))),
            "constraint_met": int(feedback.constraint_met),
            "reward": round(reward, 6),
            "feedback_reward": round(feedback.reward, 6),
            "slots_served": len(slots),
            "requests": int(sum(s["requests"] for s in slots)),
            "hits": int(sum(s["hits"] for s in slots)),
            **{k: round(v, 6) for k, v in parts.items()},
            "total_cost": round(sum(parts.values()), 6),
        }

    def metrics(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Mean cost per slot served and its five parts (as `edge-icl bench caching`), hit rate, and what the decisions did.

        The slots before the first decision are in no row (the env serves them at reset).
        """
        if not rows:
            return {"steps": 0}
        slots = sum(int(r["slots_served"]) for r in rows)
        requests = sum(int(r["requests"]) for r in rows)
        per_slot = {k: (sum(float(r[k]) for r in rows) / slots if slots else None) for k in ("total_cost", *COST_PARTS)}
        return {
            "steps": len(rows),
            "slots": slots,
            **per_slot,
            "hit_rate": sum(int(r["hits"]) for r in rows) / requests if requests else None,
            "mean_reward": float(np.mean([float(r["reward"]) for r in rows])),
            "mean_feedback_reward": float(np.mean([float(r["feedback_reward"]) for r in rows])),
            "bypass_share": float(np.mean([int(r["bypass"]) for r in rows])),
            "evicted_requested_share": float(np.mean([int(r["evicted_requests"]) > 0 for r in rows])),
            "constraint_met_share": float(np.mean([int(r["constraint_met"]) for r in rows])),
        }
