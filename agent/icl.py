"""The in-context-learning offloading agent: steps 1-4 of III-A as an OffloadingPolicy.

Zhou et al. (papers/icl-task-offloading.txt): observe the keywords x of eq. (8) ->
explore (epsilon-greedy, III-B) or ask the LLM with D (eq. 7), the pool E (eq. 9) and x
-> the decision is argmax_y f_LLM(x, y, E, D) (eq. 5-6; "score" mode) or the parsed reply
("generate" mode) -> the environment steps and returns reward (10) -> the evaluator and
the pool update (step 3, III-B rules) -> the next prompt (step 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.backends.base import LLMBackend, Scores
from agent.experience import Experience, ExperiencePool, Keywords, most_relevant
from agent.exploration import EpsilonGreedy
from agent.prompting import OffloadingPrompt, RenderedPrompt, parse_decision

DECISION_MODES = ("score", "generate")
FALLBACKS = ("random", "local", "offload")
# Content-free query for calibration (Zhao et al. 2021, "Calibrate before use").
CONTENT_FREE: Keywords = ("N/A", "N/A")

TranscriptSink = Callable[[dict[str, Any]], None]


@dataclass
class ICLSettings:
    """How the agent asks its LLM.

    Parameters
    ----------
    decision_mode: "score" (eq. 5-6 over the candidates) or "generate" (parse a reply).
    fallback: who decides when a reply names no decision: "random", "local" or "offload".
    relevant_examples: closest pool examples repeated next to the query (best last).
    calibrate: subtract each answer's score under a content-free query (score mode).
    max_tokens: reply length in generate mode.
    pool_sample: show this many pool examples, drawn afresh for each decision (in pool
        order), so the prompt does not collapse onto a few examples; 0 shows the whole
        pool. The closest examples come from the whole pool. A drawn subset changes the
        prompt's stable part, so it costs the KV-cache reuse (and, calibrated, a second call).
    """

    decision_mode: str = "score"
    fallback: str = "random"
    relevant_examples: int = 1
    calibrate: bool = True
    max_tokens: int = 6
    pool_sample: int = 0

    def __post_init__(self) -> None:
        if self.pool_sample < 0:
            raise ValueError(f"pool sample must be 0 (whole pool) or positive, got {self.pool_sample}")
        if self.decision_mode not in DECISION_MODES:
            raise ValueError(f"unknown decision mode {self.decision_mode!r}; choose one of {', '.join(DECISION_MODES)}")
        if self.fallback not in FALLBACKS:
            raise ValueError(f"unknown fallback {self.fallback!r}; choose one of {', '.join(FALLBACKS)}")


@dataclass
class ICLStats:
    """Counts the run summary reports."""

    llm_calls: int = 0
    parse_failures: int = 0
    explored: int = 0
    llm_latency_s: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "llm_calls": self.llm_calls,
            "parse_failures": self.parse_failures,
            "explored_steps": self.explored,
            "llm_median_latency_ms": float(np.median(self.llm_latency_s) * 1000) if self.llm_latency_s else None,
        }


class ICLAgent:
    """The LLM-in-the-loop offloading policy.

    Parameters
    ----------
    backend: the LLM (any `LLMBackend`).
    prompt: the prompt templates.
    pool: prioritized (III-B) or latest (baseline 1) experience pool.
    exploration: epsilon-greedy with its schedule (kind "none" = baseline 2).
    rng: the agent's own generator (fallback and pool-sample draws).
    settings: decision mode, fallback, prompt layout.
    transcript: called with one record per step (RunFolder.append_jsonl): the LLM call's
        record, or for an explored step its random decision and no call.
    """

    name = "icl"

    def __init__(
        self,
        backend: LLMBackend,
        prompt: OffloadingPrompt,
        pool: ExperiencePool,
        exploration: EpsilonGreedy,
        rng: np.random.Generator,
        settings: ICLSettings | None = None,
        transcript: TranscriptSink | None = None,
    ) -> None:
        self.backend = backend
        self.prompt = prompt
        self.pool = pool
        self.exploration = exploration
        self.rng = rng
        self.settings = settings or ICLSettings()
        self.transcript = transcript
        self.decisions = prompt.decisions
        self.stats = ICLStats()
        self.step = 0
        self._seen_stable: set[str] = set()
        self._calibration: dict[str, dict[str, float]] = {}

    # --- the LLM call -----------------------------------------------------------------
    def shown_examples(self) -> list[Experience]:
        """The pool examples the next prompt shows: all, or a fresh draw of `pool_sample` in pool order."""
        examples = self.pool.examples()
        k = self.settings.pool_sample
        if 0 < k < len(examples):
            chosen = np.sort(self.rng.choice(len(examples), size=k, replace=False))
            examples = [examples[i] for i in chosen]
        return examples

    def build_prompt(self, keywords: Keywords, shown: list[Experience] | None = None) -> RenderedPrompt:
        """D, the shown pool examples (stable part) and the closest examples and x (variable part)."""
        closest = most_relevant(self.pool.examples(), keywords, self.settings.relevant_examples)
        return self.prompt.render(self.pool.examples() if shown is None else shown, closest, keywords)

    def _content_free_scores(self, rendered: RenderedPrompt, shown: list[Experience]) -> tuple[dict[str, float], float]:
        """Each answer's score under a content-free query with the same shown pool, and the seconds it took (0 when cached)."""
        cached = self._calibration.get(rendered.stable_hash)
        if cached is not None:
            return cached, 0.0
        # The same layout with no content: a content-free closest example when the prompt
        # shows closest examples, so both prompts differ only in their content.
        placeholder = Experience(CONTENT_FREE, "N/A", math.nan, "N/A", -1)
        relevant = [placeholder] * min(self.settings.relevant_examples, len(self.pool.examples()))
        free = self.prompt.render(shown, relevant, CONTENT_FREE)
        scores = self.backend.score(free.messages, self.prompt.answers)
        self._calibration[rendered.stable_hash] = scores.logprobs
        return scores.logprobs, scores.latency_s

    def decide_by_llm(self, keywords: Keywords) -> tuple[int | None, dict[str, Any]]:
        """Ask the LLM; return the action (None when the reply names no decision) and the call's record."""
        shown = self.shown_examples()
        rendered = self.build_prompt(keywords, shown)
        record: dict[str, Any] = {
            "step": self.step,
            "backend": self.backend.name,
            "model": self.backend.model,
            "mode": self.settings.decision_mode,
            "prompt_hash": rendered.stable_hash,
            "prompt_variable": rendered.variable,
        }
        if rendered.stable_hash not in self._seen_stable:  # the full stable text once per version
            self._seen_stable.add(rendered.stable_hash)
            record["prompt_stable"] = rendered.stable
        action: int | None
        calibration_s = 0.0
        if self.settings.decision_mode == "score":
            answers = self.prompt.answers
            scores: Scores = self.backend.score(rendered.messages, answers)
            adjusted = [scores.logprobs[a] for a in answers]
            if self.settings.calibrate:
                free, calibration_s = self._content_free_scores(rendered, shown)
                record["calibration_latency_s"] = calibration_s
                # never NaN: an answer the model deems impossible stays impossible (-inf), one the
                # content-free prompt deems impossible but this prompt not is preferred (+inf); a
                # censored value (a chat API's top-k bound) is finite and subtracts as it is
                adjusted = [
                    -math.inf if v == -math.inf else (v - free[a] if math.isfinite(free[a]) else math.inf)
                    for v, a in zip(adjusted, answers)
                ]
                record["calibration"] = {a: _json_float(v) for a, v in free.items()}
            # eq. (6) over the answers the backend saw: a censored answer (missing from a chat API's
            # top-k, its value only a bound) cannot win; ties go to the first answer; none seen
            # (every score -inf, or every answer censored) = the reply named no decision
            seen = [i for i, a in enumerate(answers) if a not in scores.censored and scores.logprobs[a] > -math.inf]
            action = max(seen, key=lambda i: (adjusted[i], -i)) if seen else None
            record["censored"] = sorted(scores.censored)
            if scores.raw_reply is not None:
                record.update(raw_reply=scores.raw_reply, raw_reply_chars=scores.raw_reply_chars)
            record.update(
                reply=None,
                scores=scores.finite(),
                score_method=scores.method,
                latency_s=scores.latency_s,
                prompt_tokens=scores.prompt_tokens,
                evaluated_tokens=scores.evaluated_tokens,
                completion_tokens=0,
            )
        else:
            completion = self.backend.complete(rendered.messages, max_tokens=self.settings.max_tokens)
            action = parse_decision(completion.text, self.decisions)
            record.update(
                reply=completion.text,
                scores=None,
                latency_s=completion.latency_s,
                prompt_tokens=completion.prompt_tokens,
                evaluated_tokens=completion.evaluated_tokens,
                completion_tokens=completion.completion_tokens,
            )
        self.stats.llm_calls += 1
        self.stats.llm_latency_s.append(record["latency_s"] + calibration_s)
        record["parsed_ok"] = action is not None
        return action, record

    def _fallback(self) -> int:
        if self.settings.fallback == "random":
            return int(self.rng.integers(len(self.decisions)))
        return self.decisions.index(self.settings.fallback)

    # --- OffloadingPolicy -------------------------------------------------------------
    def act(self, observation: np.ndarray, info: dict[str, Any]) -> int:
        """Explore with probability epsilon, else ask the LLM (steps 1-2 of III-A)."""
        keywords: Keywords = (info["keywords"]["service_type"], info["keywords"]["token_size"])
        if self.exploration.explore(self.step):
            self.stats.explored += 1
            action = self.exploration.random_action()
            if self.transcript is not None:  # every step is in the transcript; explored ones make no LLM call
                self.transcript({"step": self.step, "explored": True, "llm_call": False, "decision": self.decisions[action]})
            return action
        action, record = self.decide_by_llm(keywords)
        record.update(explored=False, llm_call=True)
        if action is None:
            self.stats.parse_failures += 1
            action = self._fallback()
            record["fallback"] = self.settings.fallback
        record["decision"] = self.decisions[action]
        if self.transcript is not None:
            self.transcript(record)
        return action

    def observe(self, observation: np.ndarray, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        """Evaluate the outcome and update the pool (steps 3-4 of III-A)."""
        keywords: Keywords = (info["keywords"]["service_type"], info["keywords"]["token_size"])
        self.pool.add(keywords, self.decisions[action], float(reward), bool(step_info["quality_met"]), self.step)
        self.step += 1


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
