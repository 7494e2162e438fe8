"""The offloading problem's text face for the LLM agent (`DecisionTask`).

Zhou et al. (papers/icl-task-offloading.txt) III-A: the keywords x of eq. (8) (service
type, estimated output token size), the two candidate decisions (local, offload), the
reward (10) and the quality constraint (4e) the evaluator of step 3 checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from environment.decision_task import Candidate, Feedback
from environment.offloading.env import DECISIONS

CANDIDATES = tuple(Candidate(label, action) for action, label in enumerate(DECISIONS))


class OffloadingTask:
    """Edge-vs-cloud offloading as a `DecisionTask`: keywords eq. (8), decisions local / offload, reward (10)."""

    name = "offloading"
    decisions = DECISIONS
    # Content-free query for calibration (Zhao et al. 2021, "Calibrate before use").
    content_free = {"service_type": "N/A", "token_size": "N/A"}

    def keywords(self, info: Mapping[str, Any]) -> dict[str, str]:
        """x of eq. (8): service type, then estimated output token size."""
        return {"service_type": info["keywords"]["service_type"], "token_size": info["keywords"]["token_size"]}

    def candidates(self, info: Mapping[str, Any]) -> Sequence[Candidate]:
        """Both decisions are always open."""
        return CANDIDATES

    def feedback(self, step_info: Mapping[str, Any]) -> Feedback:
        """Reward (10) and whether the quality constraint (4e) held."""
        return Feedback(float(step_info["reward"]), bool(step_info["quality_met"]))

    def row(self, step: int, action: int, reward: float, step_info: Mapping[str, Any]) -> dict[str, Any]:
        """One tidy CSV row for one decision."""
        request = step_info["executed_request"]
        return {
            "step": step,
            "user": request["user"],
            "service": request["service"],
            "task_class": request["task_class"],
            "n_tokens": request["n_tokens"],
            "token_level": request["token_level_name"],
            "required_quality": round(request["required_quality"], 6),
            "action": action,
            "decision": DECISIONS[action],
            "oracle_action": step_info["executed_oracle_action"],
            "reward": round(reward, 6),
            "oracle_reward": round(step_info["oracle_reward"], 6),
            "total_delay_s": round(step_info["total_delay_s"], 6),
            "transmission_s": round(step_info["transmission_s"], 6),
            "generation_s": round(step_info["generation_s"], 6),
            "capacity_bps": round(step_info["capacity_bps"], 3),
            "quality_met": int(step_info["quality_met"]),
        }

    def metrics(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Mean reward and delay, quality-preferred success rate (Fig. 4(b)), accuracy vs the oracle, offload share."""
        if not rows:
            return {"steps": 0}
        quality_rows = [r for r in rows if r["task_class"] == "quality-preferred"]
        return {
            "steps": len(rows),
            "mean_reward": float(np.mean([float(r["reward"]) for r in rows])),
            "oracle_mean_reward": float(np.mean([float(r["oracle_reward"]) for r in rows])),
            "mean_delay_s": float(np.mean([float(r["total_delay_s"]) for r in rows])),
            "quality_success_rate": float(np.mean([int(r["quality_met"]) for r in quality_rows])) if quality_rows else None,
            "decision_accuracy": float(np.mean([int(r["action"]) == int(r["oracle_action"]) for r in rows])),
            "offload_share": float(np.mean([int(r["action"]) for r in rows])),
        }
