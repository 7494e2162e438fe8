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
WarningSink = Callable[[str], None]
# Replies kept in the transcript are cut to this many characters (the full length is noted).
REPLY_CAP_CHARS = 4096


def capped(text: str | None, limit: int = REPLY_CAP_CHARS) -> dict[str, Any]:
    """A reply for the transcript: at most `limit` characters, with its full length when cut."""
    if text is None or len(text) <= limit:
        return {"reply": text}
    return {"reply": text[:limit], "reply_chars": len(text), "reply_truncated": True}


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
    warn_after_parse_failures: after this many parse failures in a row the agent warns
        once (its `on_warning` sink; the CLI prints it on stderr).
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
    warn_after_parse_failures: int = 10

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
    parse_failures_in_a_row: int = 0
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
    on_warning: called once with a one-line message when parse failures keep coming.
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
        on_warning: WarningSink | None = None,
    ) -> None:
        self.backend = backend
        self.prompt = prompt
        self.pool = pool
        self.exploration = exploration
        self.rng = rng
        self.settings = settings or ICLSettings()
        self.transcript = transcript
        self.on_warning = on_warning
        self._warned = False
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
                adjusted = [v - free[a] for v, a in zip(adjusted, answers)]
                record["calibration"] = {a: _json_float(v) for a, v in free.items()}
            # eq. (6); ties go to the first answer; no finite score = the reply named no decision
            action = int(np.argmax(adjusted)) if any(math.isfinite(v) for v in adjusted) else None
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
                **capped(completion.text),
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
        keywords = self._keywords(info)
        if self.exploration.explore(self.step):
            self.stats.explored += 1
            action = self.exploration.random_action()
            if self.transcript is not None:  # every step is in the transcript; explored ones make no LLM call
                self.transcript({"step": self.step, "explored": True, "llm_call": False, "decision": self.decisions[action]})
            return action
        action, record = self.decide_by_llm(keywords)
        record.update(explored=False, llm_call=True)
        if action is None:
            action = self._fallback()
            record["fallback"] = self.settings.fallback
        self._count_parse(record["parsed_ok"])
        record["decision"] = self.decisions[action]
        if self.transcript is not None:
            self.transcript(record)
        return action

    def _count_parse(self, parsed_ok: bool) -> None:
        """Count a parse failure; warn once when `warn_after_parse_failures` come in a row."""
        if parsed_ok:
            self.stats.parse_failures_in_a_row = 0
            return
        self.stats.parse_failures += 1
        self.stats.parse_failures_in_a_row += 1
        limit = self.settings.warn_after_parse_failures
        if limit and self.stats.parse_failures_in_a_row >= limit and not self._warned and self.on_warning is not None:
            self._warned = True
            self.on_warning(
                f"{limit} LLM replies in a row named no decision (the {self.settings.fallback} fallback decided them); "
                f"see transcript.jsonl, or try --decision-mode score"
            )

    def replay(self, observation: np.ndarray, info: dict[str, Any], action: int, record: dict[str, Any]) -> None:
        """Bring the agent to where it was after deciding a recorded step, without calling the LLM.

        Makes the same generator draws as `act` did (exploration, pool sample, random
        fallback), checked against the step's transcript record, and restores the counts
        the summary reports. `observe` then updates the pool as in the original run.
        """
        from agent.rollout import ResumeError

        explored = self.exploration.explore(self.step)
        if not record or bool(record.get("explored")) != explored:
            raise ResumeError(f"step {self.step}: transcript.jsonl does not match the run's exploration draws")
        if explored:
            self.stats.explored += 1
            drawn = self.exploration.random_action()
        else:
            shown = self.shown_examples()  # the pool-sample draw, if any
            rendered = self.build_prompt(self._keywords(info), shown)
            self._seen_stable.add(rendered.stable_hash)
            self.stats.llm_calls += 1
            self.stats.llm_latency_s.append(float(record.get("latency_s") or 0.0) + float(record.get("calibration_latency_s") or 0.0))
            self._count_parse(bool(record.get("parsed_ok")))
            drawn = self._fallback() if "fallback" in record else action
        if drawn != action:
            raise ResumeError(f"step {self.step}: the replayed draw gives {self.decisions[drawn]}, the run folder says {self.decisions[action]}")

    @staticmethod
    def _keywords(info: dict[str, Any]) -> Keywords:
        return (info["keywords"]["service_type"], info["keywords"]["token_size"])

    def observe(self, observation: np.ndarray, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        """Evaluate the outcome and update the pool (steps 3-4 of III-A)."""
        keywords = self._keywords(info)
        self.pool.add(keywords, self.decisions[action], float(reward), bool(step_info["quality_met"]), self.step)
        self.step += 1


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
