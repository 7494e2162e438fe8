"""User-LLM association's text face for the LLM agent (`DecisionTask`).

Picano, Buratto and Badia (papers/inference-aware-matching.txt) as the ICL agent of Zhou
et al. (papers/icl-task-offloading.txt, III-A) plays it, one arriving user at a time:
the keywords x of eq. (8) are the user's LLM type, token level and deadline level; the
candidates are the nodes hosting its type with storage left, each with its current
queue delay, link delay (the 2C of eq. 3) and slack to the deadline; "drop" only when no
node is open, as in the paper's solvers, which drop a user only when no node of its type
has room left (Algorithm 1, step 5; the env itself accepts a drop at any step). The
reward is `placement_reward` (minus the e2e delay (3), penalties when late or dropped);
the evaluator of step 3 marks a drop bad, so the pool holds placements only. A node's
letter means nothing in the next instance: pool examples keep the chosen node's numbers
(`Candidate.features`), and `lookup` matches on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from environment.association.config import MAX_NODES
from environment.association.env import DROP, node_label
from environment.decision_task import Candidate, Feedback


def _number(value: Any) -> float:
    """A row value as a float: NaN for an empty cell (a dropped user's delay)."""
    return float("nan") if value is None or value == "" else float(value)


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "True")


class AssociationTask:
    """User-to-edge-LLM association as a `DecisionTask`: keywords, open nodes with their delays, reward."""

    name = "association"
    decisions = (*(node_label(e) for e in range(MAX_NODES)), DROP)
    # Content-free query for calibration (Zhao et al. 2021, "Calibrate before use").
    content_free = {"llm_type": "N/A", "token_level": "N/A", "deadline_level": "N/A"}

    def keywords(self, info: Mapping[str, Any]) -> dict[str, str]:
        """x: the user's LLM type, token level, deadline level (most telling first)."""
        kw = info["keywords"]
        return {"llm_type": kw["llm_type"], "token_level": kw["token_level"], "deadline_level": kw["deadline_level"]}

    def candidates(self, info: Mapping[str, Any]) -> Sequence[Candidate]:
        """The legal nodes (label = letter, features = queue, link, slack in ms); drop alone when none is legal."""
        offered = [Candidate(c["label"], int(c["action"]), dict(c["features"])) for c in info["candidates"]]
        nodes = [c for c in offered if c.label != DROP]
        return nodes or [c for c in offered if c.label == DROP]

    def feedback(self, step_info: Mapping[str, Any]) -> Feedback:
        """The placement reward; the constraint is to be served (a drop is a bad decision)."""
        executed = step_info["executed"]
        return Feedback(float(executed["reward"]), bool(executed["served"]))

    def row(self, step: int, action: int, reward: float, step_info: Mapping[str, Any]) -> dict[str, Any]:
        """One tidy CSV row per arriving user (a dropped user's delay is empty)."""
        ex = step_info["executed"]
        return {
            "step": step,
            "instance": ex["instance"],
            "user": ex["user"],
            "arrival": ex["arrival"],
            "llm_type": ex["llm_type"],
            "tokens": ex["tokens"],
            "deadline_ms": round(ex["deadline_ms"], 6),
            "open_nodes": ex["open_nodes"],
            "action": action,
            "decision": DROP if ex["node"] < 0 else node_label(ex["node"]),
            "served": int(ex["served"]),
            "invalid": int(ex["invalid"]),
            "delay_ms": round(ex["delay_ms"], 6) if ex["delay_ms"] is not None else "",  # "" as the CSV writes it
            "late": int(ex["late"]),
            "reward": round(reward, 6),
            "greedy_action": ex["greedy_action"],
        }

    def metrics(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Per instance, then averaged over instances (as the paper averages over runs): mean e2e delay of
        served users, dropping probability (unserved or late, section V), served share; and how often a
        decision with a node open picked the one of least e2e delay (eq. 8's first choice)."""
        if not rows:
            return {"steps": 0}
        instances: dict[int, list[Mapping[str, Any]]] = {}
        for r in rows:
            instances.setdefault(int(r["instance"]), []).append(r)
        delays, drops, served = [], [], []
        for users in instances.values():
            mine = [_number(r["delay_ms"]) for r in users if _flag(r["served"])]
            delays.append(float(np.mean(mine)) if mine else float("nan"))
            drops.append(float(np.mean([not _flag(r["served"]) or _flag(r["late"]) for r in users])))
            served.append(float(np.mean([_flag(r["served"]) for r in users])))
        chosen = [r for r in rows if int(r["open_nodes"]) > 0]
        finite = [d for d in delays if np.isfinite(d)]
        return {
            "steps": len(rows),
            "instances": len(instances),
            "mean_delay_ms": float(np.mean(finite)) if finite else None,
            "drop_probability": float(np.mean(drops)),
            "served_share": float(np.mean(served)),
            "mean_reward": float(np.mean([float(r["reward"]) for r in rows])),
            "decisions_with_a_node_open": len(chosen),
            "least_delay_choice_rate": float(np.mean([int(r["action"]) == int(r["greedy_action"]) for r in chosen])) if chosen else None,
            "invalid_actions": int(sum(_flag(r["invalid"]) for r in rows)),
        }
