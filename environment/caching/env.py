"""Edge model caching with age of thought as a Gymnasium environment (least-AoT paper).

Xu et al., "Cached Model-as-a-Resource" (papers/cached-model-least-aot.txt), III-C,
III-D, IV-A to IV-C: a ground BS caches LLMs in its GPU memory over time slots; served
requests add thoughts to a cached model's context (AoT, eq. 19), which raise its
accuracy (20); a step is one eviction decision, the choice eq. (29) makes by AoT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from environment.caching.config import CachingConfig, caching_config
from environment.caching.formulas import COST_PARTS, CostParts, memory_feasible
from environment.caching.serving import ModelContext, load_cost, offload_to_cloud, serve_model_slot, serving_tables
from environment.caching.trace import RequestTrace, generate_trace

OBSERVATION_COLUMNS: tuple[str, ...] = ("cached", "aot", "context_fill", "requests_this_slot", "needed", "memory_share")


@dataclass
class SlotRecord:
    """What happened in one slot: counts, memory and the five cost parts."""

    slot: int
    requests: int = 0
    hits: int = 0  # requests whose model was cached when the slot was served
    edge_served: int = 0
    miss_offloaded: int = 0  # to the cloud because their model was not cached
    energy_offloaded: int = 0  # to the cloud because (5) left no budget
    loads: int = 0
    refreshes: int = 0
    evictions: int = 0
    bypasses: int = 0
    wasted_loads: int = 0  # loaded and evicted in the same slot, before serving
    memory_used_gb: float = 0.0
    cot_gain_sum: float = 0.0
    costs: CostParts = field(default_factory=CostParts)

    def as_row(self) -> dict[str, Any]:
        """A flat CSV row: counts, then the five parts and their total (eq. 27)."""
        row = {k: v for k, v in self.__dict__.items() if k != "costs"}
        return {**row, **self.costs.as_dict(), "total_cost": self.costs.total}


class CachingEnv(gym.Env):
    """Model caching at a ground BS: which cached LLM to evict when a needed one does not fit.

    ## Description
    Over `slots` time slots, users send requests for LLM agent services; each request
    asks for a model (its service's best-matched one, or an equivalent one). At the
    start of a slot its requests are revealed. Every requested model that is not cached
    is loaded if the GPU memory (3) allows. When it does not, the env stops and asks the
    policy for one decision: evict a cached model, or bypass (serve this model's
    requests of this slot from the cloud and load nothing). Once every needed model is
    loaded or bypassed, the slot is served deterministically: cached models serve
    their requests, gather thoughts (18) and AoT (19), are refreshed when their context
    window would overflow (28c), and send to the cloud what their energy budget (5)
    cannot compute; requests for uncached models go to the cloud. The simulation then
    runs on to the next decision. A model evicted in a slot is not reloaded in that slot.

    ## Action Space
    `Discrete(M + 1)`: `m < M` evicts cached model m; `M` bypasses. Legal actions are in
    `info["action_mask"]` and `action_masks()` (sb3-contrib convention): bypass always,
    evict m only if m is cached (and, with `evict_requested=False`, not requested in
    this slot). An illegal action is played as bypass and flagged by
    `info["illegal_action"]` (no penalty: plain DQN needs MaskablePPO or its own penalty).

    ## Observation Space
    `Box(0, high, (M, 6), float32)`, one row per model (high: 1 for flags and the
    fill, 1e9 standing for "unbounded" elsewhere):

    | column | meaning |
    |--------|---------|
    | 0 cached | 1 if the model is in GPU memory |
    | 1 aot | AoT at the end of the last slot, eq. (19) (0 if not cached) |
    | 2 context_fill | thought tokens in its context / W_m |
    | 3 requests_this_slot | requests for it in the current slot |
    | 4 needed | 1 for the model the current decision is about |
    | 5 memory_share | g_m / GPU memory of the BS |

    The decision as facts for a text face: `info["needed"]`, `info["candidates"]` (one
    dict per cached model: aot, context_fill, recent_requests, memory_gb, ...),
    `info["free_memory_gb"]`, and `describe()` renders them as lines of text.

    ## Rewards
    Minus the cost (27) charged between this decision and the next (or the episode's
    end), broken into its five parts in `info["cost_parts"]`. The cost charged before
    the first decision is `reset`'s `info["cost_parts"]`; `episode_costs()` holds the
    episode's running total. `step`'s `info["decision"]` says what the decision did:
    its `slot`, the `needed` model, `bypass`, the `evicted` model (None for a bypass)
    and its `evicted_requests` in that slot (sent to the cloud), and `needed_loaded`
    (the eviction freed enough memory and the needed model was loaded; False when the
    env asks again about the same model in the same slot).

    ## Starting State
    `reset(seed=...)` draws the whole request trace from the seeded generator, starts
    with an empty cache and simulates to the first decision.

    ## Episode End
    Terminated when the last slot has been served (the horizon T of problem (28)); never
    truncated. If no decision arises in the whole horizon, `reset` returns
    `info["finished"] = True` with only bypass legal, and the next step terminates with
    reward 0.

    ## Arguments
    `config`: a `CachingConfig`, a mapping validated into one, or None for the paper defaults.

    ## Example
    >>> import gymnasium as gym, environment
    >>> env = gym.make("EdgeICL/Caching-v0")
    >>> obs, info = env.reset(seed=1)
    >>> info["needed"]["name"], [c["name"] for c in info["candidates"]][:2]
    ('gpt3-175b-4', ['llama-65b-0', 'gpt3-175b-0'])
    >>> bypass = env.action_space.n - 1
    >>> obs, reward, terminated, truncated, info = env.step(bypass)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, config: CachingConfig | dict[str, Any] | None = None, render_mode: str | None = None) -> None:
        self.config = config if isinstance(config, CachingConfig) else caching_config(config)
        self.render_mode = render_mode
        self.tables = serving_tables(self.config)
        self.n_models = len(self.config.models)
        self.bypass_action = self.n_models
        self.model_names = [m.name for m in self.config.models]
        self.action_space = spaces.Discrete(self.n_models + 1)
        # Finite stand-ins for "no bound" (AoT and request counts have none; a model may be
        # larger than the whole memory): 1 where a column is a 0/1 flag or a fill.
        high = np.broadcast_to(np.array([1.0, 1e9, 1.0, 1e9, 1.0, 1e9], dtype=np.float32), (self.n_models, len(OBSERVATION_COLUMNS)))
        self.observation_space = spaces.Box(np.zeros_like(high), high.copy(), dtype=np.float32)
        self.trace: RequestTrace | None = None
        self.finished = True

    # --- simulation -------------------------------------------------------------------
    def _begin_slot(self, t: int) -> None:
        self.slot = t
        counts = self._counts[:, t]
        self.total_requests += counts
        self.last_request_slot[counts > 0] = t
        self.current = SlotRecord(slot=t, requests=int(counts.sum()))
        arrivals = self.trace.model[self._starts[t] : self._starts[t + 1]]
        first = np.sort(np.unique(arrivals, return_index=True)[1])
        self.pending = [int(m) for m in arrivals[first] if not self.cached[m]]
        self.loaded_now: set[int] = set()

    def _charge(self, parts: CostParts) -> None:
        self.ledger.add(parts)
        self.current.costs.add(parts)

    def _fits(self, model: int) -> bool:
        with_model = self.cached.copy()
        with_model[model] = True
        return memory_feasible(with_model, self.tables.memory_gb, self.tables.capacity_gb)

    def _load(self, model: int) -> None:
        self.cached[model] = True
        self.contexts[model] = ModelContext()
        self.entered_slot[model] = self.slot
        self.loaded_now.add(model)
        self.current.loads += 1
        self._charge(load_cost(self.tables, model))

    def _evict(self, model: int) -> None:
        self.cached[model] = False
        self.contexts[model] = ModelContext()
        self.entered_slot[model] = -1
        self.current.evictions += 1
        if model in self.loaded_now:
            self.current.wasted_loads += 1

    def _serve_slot(self) -> None:
        t, record = self.slot, self.current
        for m in range(self.n_models):
            index = self._per_model[m][t]
            if self.cached[m]:
                self.schedule[m, t] = True
                self.contexts[m], out = serve_model_slot(self.tables, m, self.trace, index, self.contexts[m])
                self._charge(out.costs)
                record.hits += index.size
                record.edge_served += out.edge_served
                record.energy_offloaded += out.energy_offloaded
                record.refreshes += out.refreshes
                record.cot_gain_sum += out.cot_gain_sum
            elif index.size:
                self._charge(offload_to_cloud(self.tables, m, self.trace.input_mb[index]))
                record.miss_offloaded += index.size
        record.memory_used_gb = float(self.tables.memory_gb @ self.cached)
        self.records.append(record)

    def _advance(self) -> None:
        """Simulate until the next decision (a needed model that does not fit) or the end."""
        while True:
            while self.pending:
                model = self.pending[0]
                if self._fits(model):
                    self._load(model)
                    self.pending.pop(0)
                elif self.tables.memory_gb[model] > self.tables.capacity_gb:
                    self.pending.pop(0)  # can never fit: the cloud serves it, no decision
                    self.current.bypasses += 1
                else:
                    return
            self._serve_slot()
            if self.slot + 1 >= self.config.slots:
                self.finished = True
                return
            self._begin_slot(self.slot + 1)

    # --- the two faces of one state -------------------------------------------------
    def action_masks(self) -> np.ndarray:
        """Legal actions now: evict a cached model, or bypass (sb3-contrib MaskablePPO reads this)."""
        mask = np.zeros(self.n_models + 1, dtype=bool)
        mask[self.bypass_action] = True
        if not self.finished:
            mask[: self.n_models] = self.cached if self.config.evict_requested else self.cached & (self._counts[:, self.slot] == 0)
        return mask

    def _observation(self) -> np.ndarray:
        obs = np.zeros((self.n_models, len(OBSERVATION_COLUMNS)), dtype=np.float32)
        obs[:, 0] = self.cached
        obs[:, 1] = [c.aot for c in self.contexts]
        obs[:, 2] = [c.context_tokens for c in self.contexts] / self.tables.window
        obs[:, 3] = self._counts[:, self.slot]
        if not self.finished:
            obs[self.pending[0], 4] = 1.0
        obs[:, 5] = self.tables.memory_gb / self.tables.capacity_gb
        return obs

    def model_facts(self, model: int) -> dict[str, Any]:
        """The facts of one model a policy (or a prompt) may read at a decision point."""
        t, model = self.slot, int(model)
        context = self.contexts[model]
        recent = int(self._counts[model, max(0, t - self.config.recent_window + 1) : t + 1].sum())
        return {
            "model": model,
            "name": self.model_names[model],
            "family": self.config.models[model].family,
            "memory_gb": float(self.tables.memory_gb[model]),
            "switching_cost": float(self.tables.switching[model]),
            "aot": float(context.aot),
            "context_tokens": int(context.context_tokens),
            "context_window": int(self.tables.window[model]),
            "context_fill": float(context.context_tokens / self.tables.window[model]),
            "requests_this_slot": int(self._counts[model, t]),
            "recent_requests": recent,
            "total_requests": int(self.total_requests[model]),
            "entered_slot": int(self.entered_slot[model]),
            "last_request_slot": int(self.last_request_slot[model]),
        }

    def _info(self) -> dict[str, Any]:
        decision = not self.finished
        last = self.records[-1].costs.as_dict() if self.records else CostParts().as_dict()
        return {
            "slot": int(self.slot),
            "slots": int(self.config.slots),
            "finished": not decision,
            "needed": self.model_facts(self.pending[0]) if decision else None,
            "candidates": [self.model_facts(m) for m in np.flatnonzero(self.cached)] if decision else [],
            "free_memory_gb": float(self.tables.capacity_gb - self.tables.memory_gb @ self.cached),
            "memory_capacity_gb": float(self.tables.capacity_gb),
            "action_mask": self.action_masks(),
            "last_slot_cost": last,
        }

    def episode_costs(self) -> dict[str, float]:
        """The five cost parts charged so far in this episode."""
        return self.ledger.as_dict()

    def describe(self) -> str:
        """The current decision as a few lines of text."""
        if self.finished:
            return f"slot {self.slot}: episode finished"
        need = self.model_facts(self.pending[0])
        free = self.tables.capacity_gb - self.tables.memory_gb @ self.cached
        lines = [f"slot {self.slot}: {need['name']} ({need['memory_gb']:.0f} GB, requests this slot: {need['requests_this_slot']}) does not fit; free memory {free:.0f} GB."]
        for m in np.flatnonzero(self.cached):
            f = self.model_facts(int(m))
            lines.append(
                f"  {f['name']}: {f['memory_gb']:.0f} GB, AoT {f['aot']:.2f}, context {f['context_fill']:.0%},"
                f" requests this slot: {f['requests_this_slot']}, last {self.config.recent_window} slots: {f['recent_requests']}"
            )
        return "\n".join(lines)

    # --- Gymnasium API ----------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.trace = generate_trace(self.config, self.np_random)
        self._per_model = self.trace.by_model_slot()
        self._counts = self.trace.counts()
        self._starts = self.trace.slot_starts
        m = self.n_models
        self.cached = np.zeros(m, dtype=bool)
        self.contexts = [ModelContext() for _ in range(m)]
        self.entered_slot = np.full(m, -1, dtype=np.int64)
        self.last_request_slot = np.full(m, -1, dtype=np.int64)
        self.total_requests = np.zeros(m, dtype=np.int64)
        self.schedule = np.zeros((m, self.config.slots), dtype=bool)
        self.records: list[SlotRecord] = []
        self.ledger = CostParts()
        self.finished = False
        self._begin_slot(0)
        self._advance()
        self._empty_episode = self.finished
        info = self._info()
        info["cost_parts"] = self.ledger.as_dict()
        info["slots_done"] = [r.as_row() for r in self.records]
        return self._observation(), info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.trace is None:
            raise RuntimeError("call reset() before step()")
        action = int(action)
        if self.finished and not self._empty_episode:
            raise RuntimeError("the episode has ended: call reset()")
        legal = bool(0 <= action <= self.n_models and self.action_masks()[action])
        before = self.ledger.as_dict()
        done_before = len(self.records)
        decision: dict[str, Any] | None = None
        if self._empty_episode:
            self._empty_episode = False
        elif action == self.bypass_action or not legal:
            decision = self._decision(bypass=True)
            self.pending.pop(0)
            self.current.bypasses += 1
            self._advance()
        else:
            decision = self._decision(bypass=False, evicted=action)
            self._evict(action)
            decision["needed_loaded"] = self._fits(decision["needed"])  # then `_advance` loads it first
            self._advance()
        after = self.ledger.as_dict()
        parts = {k: after[k] - before[k] for k in COST_PARTS}
        info = self._info()
        info["cost_parts"] = parts
        info["slots_done"] = [r.as_row() for r in self.records[done_before:]]
        info["illegal_action"] = not legal
        info["decision"] = decision
        return self._observation(), -float(sum(parts.values())), self.finished, False, info

    def _decision(self, bypass: bool, evicted: int | None = None) -> dict[str, Any]:
        """What the decision about to be played does, before the env moves on (see Rewards)."""
        return {
            "slot": int(self.slot),
            "needed": int(self.pending[0]),
            "bypass": bypass,
            "evicted": None if evicted is None else int(evicted),
            "evicted_requests": 0 if evicted is None else int(self._counts[evicted, self.slot]),
            "needed_loaded": False,
        }

    def render(self) -> str | None:
        if self.render_mode == "ansi" and self.trace is not None:
            return self.describe() + "\n"
        return None
