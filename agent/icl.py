"""The in-context-learning agent: steps 1-4 of III-A, for any decision problem.

Zhou et al. (papers/icl-task-offloading.txt): observe the keywords x of eq. (8) ->
explore (epsilon-greedy, III-B) or ask the LLM with D (eq. 7), the pool E (eq. 9) and x
-> the decision is argmax_y f_LLM(x, y, E, D) over the open candidates (eq. 5-6; "score"
mode) or the parsed reply ("generate" mode) -> the environment steps and returns the
reward -> the evaluator and the pool update (step 3, III-B rules) -> the next prompt
(step 4). The problem is a `DecisionTask` (environment.decision_task): the agent never
knows which one it plays.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.backends.base import BackendError, LLMBackend, Message, Scores
from agent.backends.registry import make_backend
from agent.context_window import answer_room, longest_fitting_head, overflow, prompt_tokens, too_long, window_of
from agent.decision_parser import REPLY_CHARS, parse_decision
from agent.experience import Experience, ExperiencePool, HoldoutPool, Keywords, as_keywords, make_pool, most_relevant
from agent.exploration import EpsilonGreedy, EpsilonSchedule
from agent.fallback_share import FallbackCount
from agent.llm_cache import ask, cache_facts, with_llm_cache
from agent.prompting import PromptError, RenderedPrompt, TaskPrompt
from agent.settings import AgentSettings
from environment.decision_task import Candidate, DecisionTask
from environment.policy import AGENT_STREAM, EXPLORATION_STREAM, policy_generator

TranscriptSink = Callable[[dict[str, Any]], None]
WarningSink = Callable[[str], None]


class ReplayError(ValueError):
    """A recorded step that does not replay: the run folder's rows or transcript do not match its world and policy."""


def capped(text: str | None, chars: int | None = None, limit: int = REPLY_CHARS) -> dict[str, Any]:
    """A reply for the transcript: at most `limit` characters (the ones the parser reads), with
    its full length when cut, here or already by the backend (`chars`: `Completion.text_chars`)."""
    if text is None:
        return {"reply": None}
    full = len(text) if chars is None else max(chars, len(text))
    if full <= limit:
        return {"reply": text}
    return {"reply": text[:limit], "reply_chars": full, "reply_truncated": True}


@dataclass
class ICLStats:
    """Counts the run summary reports.

    `llm_calls`: decisions the LLM was asked for; `fallbacks`: those of them the fallback
    made (the reply named none); `fallback_share` in the summary = fallbacks / llm_calls
    (agent/fallback_share.py; None when the LLM was asked for none).
    """

    llm_calls: int = 0
    parse_failures: int = 0
    parse_failures_in_a_row: int = 0
    explored: int = 0
    fallbacks: int = 0
    llm_latency_s: list[float] = field(default_factory=list)

    def fallback_count(self) -> FallbackCount:
        return FallbackCount(self.llm_calls, self.fallbacks)

    def summary(self) -> dict[str, Any]:
        return {
            "llm_calls": self.llm_calls,
            "parse_failures": self.parse_failures,
            "fallback_decisions": self.fallbacks,
            "fallback_share": self.fallback_count().share,
            "explored_steps": self.explored,
            "llm_median_latency_ms": float(np.median(self.llm_latency_s) * 1000) if self.llm_latency_s else None,
        }


class ICLAgent:
    """The LLM-in-the-loop policy of any `DecisionTask`.

    Parameters
    ----------
    task: the decision problem's text face (keywords, candidates, feedback).
    backend: the LLM (any `LLMBackend`); None for a subclass that decides without one.
    prompt: the prompt templates.
    pool: prioritized (III-B) or latest (baseline 1) experience pool.
    exploration: epsilon-greedy with its schedule (kind "none" = baseline 2).
    rng: the agent's own generator (fallback and pool-sample draws).
    settings: decision mode, fallback, prompt layout.
    transcript: called with one record per step (RunFolder.append_jsonl): the LLM call's
        record, or for an explored step its random decision and no call.
    on_warning: called once with a one-line message when parse failures keep coming, and
        once when the pool first outgrows the backend's context window.

    Raises PromptError (one line) when the smallest prompt a step can show does not fit
    the backend's context window (agent/context_window.py).
    """

    name = "icl"
    # A subclass that decides without an LLM (agent.baselines.lookup) sets this False: no backend is built.
    uses_llm = True

    @classmethod
    def from_settings(
        cls,
        task: DecisionTask,
        settings: AgentSettings,
        seed: int,
        backend: LLMBackend | None = None,
        transcript: TranscriptSink | None = None,
        held_out: Collection[Keywords] = (),
    ) -> "ICLAgent":
        """The agent these settings describe, its draws seeded from the run seed.

        `backend` reuses an LLM already loaded (a bench builds one per backend); None builds
        the one the settings name; either is put behind the persistent call cache in the mode
        `settings.llm_cache` names (agent/llm_cache.py). `held_out`: keyword combinations whose
        experience never enters the pool (unseen states). Raises ValueError / PromptError /
        BackendUnavailable on bad input.
        """
        prompt = TaskPrompt(settings.prompt, task)
        pool: ExperiencePool = make_pool(settings.pool, settings.pool_size)
        if held_out:
            pool = HoldoutPool(pool, held_out)
        schedule = EpsilonSchedule(kind=settings.exploration, epsilon=settings.epsilon, epsilon_min=min(0.05, settings.epsilon))
        exploration = EpsilonGreedy(schedule, policy_generator(seed, EXPLORATION_STREAM))
        if backend is None and cls.uses_llm:
            backend = make_backend(settings.backend, settings.backend_options, seed)
        if backend is not None:  # a subclass without an LLM (agent.baselines.lookup) has none to cache
            backend = with_llm_cache(backend, settings.llm_cache)
        return cls(task, backend, prompt, pool, exploration, policy_generator(seed, AGENT_STREAM), settings, transcript)

    def __init__(
        self,
        task: DecisionTask,
        backend: LLMBackend | None,
        prompt: TaskPrompt,
        pool: ExperiencePool,
        exploration: EpsilonGreedy,
        rng: np.random.Generator,
        settings: AgentSettings | None = None,
        transcript: TranscriptSink | None = None,
        on_warning: WarningSink | None = None,
    ) -> None:
        self.task = task
        self.backend = backend
        self.prompt = prompt
        self.pool = pool
        self.exploration = exploration
        self.rng = rng
        self.settings = settings or AgentSettings()
        fallbacks = ("random", *task.decisions)
        if self.settings.fallback not in fallbacks:
            raise ValueError(f"--fallback: {self.settings.fallback!r} is not a decision of {task.name}; choose one of {', '.join(fallbacks)}")
        self.transcript = transcript
        self.on_warning = on_warning
        self._warned = False
        self.stats = ICLStats()
        self.step = 0
        self._seen_stable: set[str] = set()
        self._calibration: dict[tuple[str, tuple[str, ...]], dict[str, float]] = {}
        self._warned_trim = False
        self._check_window()

    # --- the prompt -------------------------------------------------------------------
    def shown_examples(self) -> list[Experience]:
        """The pool examples the next prompt shows: all, or a fresh draw of `pool_sample` in pool order."""
        examples = self.pool.examples()
        k = self.settings.pool_sample
        if 0 < k < len(examples):
            chosen = np.sort(self.rng.choice(len(examples), size=k, replace=False))
            examples = [examples[i] for i in chosen]
        return examples

    def closest_examples(self, keywords: Keywords) -> list[Experience]:
        """The good pool examples closest to the query, the closest last (next to the query)."""
        return most_relevant(self.pool.examples(), keywords, self.settings.closest)

    def build_prompt(self, keywords: Keywords, candidates: Sequence[Candidate], shown: list[Experience] | None = None) -> RenderedPrompt:
        """D, the shown pool examples (stable part) and the closest examples and x (variable part)."""
        shown = self.pool.examples() if shown is None else shown
        return self.prompt.render(shown, self.closest_examples(keywords), keywords, candidates)

    # --- the context window (agent/context_window.py) -----------------------------------
    def _answer_room(self, candidates: Sequence[Candidate]) -> int:
        return answer_room(self.backend, self.prompt.answers(candidates), self.settings.decision_mode, self.settings.max_tokens)

    def _check_window(self) -> None:
        """Before step 0: the smallest prompt a step shows (no pool example, the closest ones, the query) must fit the window."""
        window = window_of(self.backend)
        if window is None:
            return
        floor = self.prompt.sample(pool=0, relevant=self.settings.closest)
        room = self._answer_room([Candidate(label, action) for action, label in enumerate(self.task.decisions)])
        tokens = overflow(self.backend, [floor.messages], room)
        if tokens is not None:
            system = prompt_tokens(self.backend, floor.messages[:1])
            raise PromptError(too_long(tokens, room, window, self.backend, f"--prompt: {self.prompt.folder}", f" (system.j2 alone: {system})"))

    def fit_window(self, keywords: Keywords, candidates: Sequence[Candidate], shown: list[Experience]) -> tuple[list[Experience], int]:
        """The longest head of `shown` whose prompts (and the content-free one, when calibrating) fit the
        backend's window, and how many examples it leaves out; BackendError when not even none fits."""
        window = window_of(self.backend)
        if window is None:
            return shown, 0
        room = self._answer_room(candidates)
        calibrating = self.settings.decision_mode == "score" and self.settings.calibrate

        def prompts(k: int) -> list[list[Message]]:
            head = shown[:k]
            rendered = [self.build_prompt(keywords, candidates, head).messages]
            return [*rendered, self._content_free_prompt(head, candidates).messages] if calibrating else rendered

        kept = longest_fitting_head(len(shown), lambda k: overflow(self.backend, prompts(k), room) is None)
        if kept is None:
            tokens = overflow(self.backend, prompts(0), room) or 0
            raise BackendError(too_long(tokens, room, window, self.backend, f"step {self.step}", " with no pool example shown"))
        trimmed = len(shown) - kept
        if trimmed and not self._warned_trim and self.on_warning is not None:
            self._warned_trim = True
            self.on_warning(
                f"step {self.step}: the prompt outgrew the {window}-token context window; {trimmed} of {len(shown)} pool examples "
                f"left out (the end of the pool's order; transcript.jsonl: pool_trimmed)"
            )
        return shown[:kept], trimmed

    # --- the LLM call -----------------------------------------------------------------
    def _content_free_scores(
        self, rendered: RenderedPrompt, shown: list[Experience], candidates: Sequence[Candidate]
    ) -> tuple[dict[str, float], float, dict[str, Any]]:
        """Each answer's score under a content-free query with the same shown pool, the seconds it
        took (0 when the agent had it already) and what the LLM call cache did for it."""
        answers = self.prompt.answers(candidates)
        key = (rendered.stable_hash, tuple(answers))
        cached = self._calibration.get(key)
        if cached is not None:
            return cached, 0.0, {}
        free = self._content_free_prompt(shown, candidates)
        scores = ask(self.backend, "score", free.messages, answers, accept=_some_seen)
        self._calibration[key] = scores.logprobs
        return scores.logprobs, scores.latency_s, cache_facts(scores)

    def _content_free_prompt(self, shown: list[Experience], candidates: Sequence[Candidate]) -> RenderedPrompt:
        """The calibration prompt: `shown` as the pool, a content-free query and closest examples."""
        # The same layout with no content: a content-free closest example when the prompt
        # shows closest examples, and the same candidate labels without their numbers, so
        # both prompts differ only in their content.
        free_keywords = as_keywords(self.task.content_free)
        placeholder = Experience(free_keywords, "N/A", math.nan, "N/A", -1)
        relevant = [placeholder] * min(self.settings.closest, len(self.pool.examples()))
        bare = [Candidate(c.label, c.action) for c in candidates]
        return self.prompt.render(shown, relevant, free_keywords, bare)

    def decide_by_llm(self, keywords: Keywords, candidates: Sequence[Candidate]) -> tuple[int | None, dict[str, Any]]:
        """Ask the LLM; return the chosen candidate's index (None when the reply names none) and the call's record."""
        shown, trimmed = self.fit_window(keywords, candidates, self.shown_examples())
        rendered = self.build_prompt(keywords, candidates, shown)
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
        if trimmed:
            record["pool_trimmed"] = trimmed
        choice: int | None
        calibration_s = 0.0
        if self.settings.decision_mode == "score":
            answers = self.prompt.answers(candidates)
            scores: Scores = ask(self.backend, "score", rendered.messages, answers, accept=_some_seen)
            adjusted = [scores.logprobs[a] for a in answers]
            if self.settings.calibrate:
                free, calibration_s, calibration_cache = self._content_free_scores(rendered, shown, candidates)
                record["calibration_latency_s"] = calibration_s
                record.update({f"calibration_{k}": v for k, v in calibration_cache.items()})
                # never NaN: an answer the model deems impossible stays impossible (-inf), one the
                # content-free prompt deems impossible but this prompt not is preferred (+inf); a
                # censored value (a chat API's top-k bound) is finite and subtracts as it is
                adjusted = [
                    -math.inf if v == -math.inf else (v - free[a] if math.isfinite(free[a]) else math.inf) for v, a in zip(adjusted, answers)
                ]
                record["calibration"] = {a: _json_float(v) for a, v in free.items()}
            # eq. (6) over the answers the backend saw: a censored answer (missing from a chat API's
            # top-k, its value only a bound) cannot win; ties go to the first answer; none seen
            # (every score -inf, or every answer censored) = the reply named no decision
            seen = [i for i, a in enumerate(answers) if a in scores.seen()]
            choice = max(seen, key=lambda i: (adjusted[i], -i)) if seen else None
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
                **cache_facts(scores),
            )
        else:
            labels = [c.label for c in candidates]
            # the cache keeps a reply only when it names a decision (agent/llm_cache.py)
            names_one = lambda reply: parse_decision(reply.text, labels) is not None
            completion = ask(self.backend, "complete", rendered.messages, self.settings.max_tokens, accept=names_one)
            choice = parse_decision(completion.text, labels)
            if completion.raw_reply is not None:
                record.update(raw_reply=completion.raw_reply, raw_reply_chars=completion.raw_reply_chars)
            record.update(
                **capped(completion.text, completion.text_chars),
                scores=None,
                latency_s=completion.latency_s,
                prompt_tokens=completion.prompt_tokens,
                evaluated_tokens=completion.evaluated_tokens,
                completion_tokens=completion.completion_tokens,
                **cache_facts(completion),
            )
        self.stats.llm_calls += 1
        self.stats.llm_latency_s.append(record["latency_s"] + calibration_s)
        record["parsed_ok"] = choice is not None
        return choice, record

    def _fallback(self, candidates: Sequence[Candidate]) -> int:
        """The candidate the fallback names when a reply names none (a random one if that label is not open).

        Every fallback decision passes here (`act`, `replay`): an agent that asks an LLM counts it for its
        `fallback_share`."""
        if self.uses_llm:
            self.stats.fallbacks += 1
        labels = [c.label for c in candidates]
        if self.settings.fallback != "random" and self.settings.fallback in labels:
            return labels.index(self.settings.fallback)
        return int(self.rng.integers(len(candidates)))

    # --- the policy -------------------------------------------------------------------
    def act(self, observation: Any, info: dict[str, Any]) -> int:
        """Explore with probability epsilon, else ask the LLM (steps 1-2 of III-A); return the env action."""
        keywords = as_keywords(self.task.keywords(info))
        candidates = self.task.candidates(info)
        if len(candidates) == 1:  # nothing to choose (association: only "drop" is open): no draw, no call
            if self.transcript is not None:
                self.transcript({"step": self.step, "explored": False, "llm_call": False, "only_candidate": True, "decision": candidates[0].label})
            return candidates[0].action
        if self.exploration.explore(self.step):
            self.stats.explored += 1
            chosen = candidates[self.exploration.random_choice(len(candidates))]
            if self.transcript is not None:  # every step is in the transcript; explored ones make no LLM call
                self.transcript({"step": self.step, "explored": True, "llm_call": False, "decision": chosen.label})
            return chosen.action
        choice, record = self.decide_by_llm(keywords, candidates)
        record.update(explored=False, llm_call=self.uses_llm)
        if choice is None:
            choice = self._fallback(candidates)
            record["fallback"] = self.settings.fallback
        self._count_parse(record["parsed_ok"])
        record["decision"] = candidates[choice].label
        if self.transcript is not None:
            self.transcript(record)
        return candidates[choice].action

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

    def replay(self, observation: Any, info: dict[str, Any], action: int, record: dict[str, Any]) -> None:
        """Bring the agent to where it was after deciding a recorded step, without calling the LLM.

        Makes the same generator draws as `act` did (exploration, pool sample, random
        fallback), checked against the step's transcript record, and restores the counts
        the summary reports. `observe` then updates the pool as in the original run.
        """
        candidates = self.task.candidates(info)
        actions = [c.action for c in candidates]
        if len(candidates) == 1:
            if not record.get("only_candidate") or actions[0] != action:
                raise ReplayError(f"step {self.step}: transcript.jsonl does not match the run's only open candidate")
            return
        explored = self.exploration.explore(self.step)
        if not record or bool(record.get("explored")) != explored:
            raise ReplayError(f"step {self.step}: transcript.jsonl does not match the run's exploration draws")
        if explored:
            self.stats.explored += 1
            drawn = actions[self.exploration.random_choice(len(candidates))]
        else:
            keywords = as_keywords(self.task.keywords(info))
            shown, _ = self.fit_window(keywords, candidates, self.shown_examples())  # the pool-sample draw, if any; the window's cut
            self._seen_stable.add(self.build_prompt(keywords, candidates, shown).stable_hash)
            if record.get("llm_call"):
                self.stats.llm_calls += 1
                self.stats.llm_latency_s.append(float(record.get("latency_s") or 0.0) + float(record.get("calibration_latency_s") or 0.0))
            self._count_parse(bool(record.get("parsed_ok")))
            drawn = actions[self._fallback(candidates)] if "fallback" in record else action
        if drawn != action:
            raise ReplayError(f"step {self.step}: the replayed draw gives action {drawn}, the run folder says {action}")

    def observe(self, observation: Any, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        """Evaluate the outcome and update the pool (steps 3-4 of III-A)."""
        feedback = self.task.feedback(step_info)
        chosen = next(c for c in self.task.candidates(info) if c.action == action)
        self.pool.add(
            as_keywords(self.task.keywords(info)), chosen.label, feedback.reward, feedback.constraint_met, self.step, tuple(chosen.features.items())
        )
        self.step += 1


def _some_seen(scores: Scores) -> bool:
    """Whether a score result names a decision: some candidate seen (what the cache may keep)."""
    return bool(scores.seen())


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
