"""The request process of the caching problem: who asks which model, when (least-AoT paper, VI-A).

Each of the users has one active service at a time (III intro: "each group of users can
use one LLM agent as their active assistant"), drawn by Zipf popularity and redrawn with
a small probability each slot; each user sends a Poisson number of requests per slot
("generated from the Poisson point process depending on the number of users"). A
request asks for its service's best-matched model, or its equivalent one (III-C: the
requests b_{i,m,t} of service i for model m), carries an input of U[100, 200] MB, and
adds K_i thoughts of at most 200 tokens each when served.

The whole horizon is drawn at reset from the episode's generator, so the offline
references (Belady, the MILP) see the same trace the online policies meet slot by slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from environment.caching.config import CachingConfig


@dataclass(frozen=True)
class RequestTrace:
    """All requests of an episode, ordered by slot then arrival.

    Parameters
    ----------
    slot, service, model: (R,) each request's slot t, service i and requested model m.
    input_mb: (R,) its input size.
    thought_tokens: (R,) tokens of the K_i thoughts it adds when served (eq. 18).
    n_slots, n_models, n_services: the horizon T, M and I.
    """

    slot: NDArray[np.int64]
    service: NDArray[np.int64]
    model: NDArray[np.int64]
    input_mb: NDArray[np.float64]
    thought_tokens: NDArray[np.int64]
    n_slots: int
    n_models: int
    n_services: int

    @property
    def slot_starts(self) -> NDArray[np.int64]:
        """(T + 1,): requests of slot t are the indices slot_starts[t]:slot_starts[t + 1]."""
        return np.searchsorted(self.slot, np.arange(self.n_slots + 1))

    def counts(self) -> NDArray[np.int64]:
        """(M, T) requests for each model in each slot."""
        out = np.zeros((self.n_models, self.n_slots), dtype=np.int64)
        np.add.at(out, (self.model, self.slot), 1)
        return out

    def service_counts(self) -> NDArray[np.int64]:
        """(I, T) requests of each service in each slot."""
        out = np.zeros((self.n_services, self.n_slots), dtype=np.int64)
        np.add.at(out, (self.service, self.slot), 1)
        return out

    def by_model_slot(self) -> list[list[NDArray[np.int64]]]:
        """[m][t]: the indices of the requests for model m in slot t, in arrival order."""
        out: list[list[NDArray[np.int64]]] = [[np.zeros(0, dtype=np.int64) for _ in range(self.n_slots)] for _ in range(self.n_models)]
        order = np.lexsort((np.arange(self.slot.size), self.slot, self.model))
        keys = self.model[order] * self.n_slots + self.slot[order]
        bounds = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:]):
            m, t = divmod(int(keys[a]), self.n_slots)
            out[m][t] = order[a:b]
        return out


def service_popularity(n_services: int, zipf_exponent: float) -> NDArray[np.float64]:
    """Zipf popularity of the services by index: p_i proportional to 1 / (i + 1)^s (ours)."""
    weights = 1.0 / np.arange(1, n_services + 1, dtype=float) ** zipf_exponent
    return weights / weights.sum()


def generate_trace(config: CachingConfig, rng: np.random.Generator) -> RequestTrace:
    """Draw the requests of `config.slots` slots from `rng` (the only source of randomness)."""
    n_services = len(config.services)
    popularity = service_popularity(n_services, config.zipf_exponent)
    best = np.array([s.best_model for s in config.services])
    equivalent = np.array([s.best_model if s.equivalent_model is None else s.equivalent_model for s in config.services])
    best_share = np.array([s.best_share for s in config.services])
    thoughts = np.array([s.thoughts_per_request for s in config.services])
    active = rng.choice(n_services, size=config.n_users, p=popularity)
    slots, services, models, sizes, tokens = [], [], [], [], []
    for t in range(config.slots):
        switch = rng.random(config.n_users) < config.service_switch_probability
        active[switch] = rng.choice(n_services, size=int(switch.sum()), p=popularity)
        per_user = rng.poisson(config.requests_per_user, size=config.n_users)
        service = rng.permutation(np.repeat(active, per_user))
        model = np.where(rng.random(service.size) < best_share[service], best[service], equivalent[service])
        slots.append(np.full(service.size, t, dtype=np.int64))
        services.append(service.astype(np.int64))
        models.append(model.astype(np.int64))
        sizes.append(rng.uniform(config.input_mb_low, config.input_mb_high, size=service.size))
        # K_i thoughts per request, each of U{low..high} tokens.
        each = rng.integers(config.thought_tokens_low, config.thought_tokens_high + 1, size=int(thoughts[service].sum()))
        owner = np.repeat(np.arange(service.size), thoughts[service])
        tokens.append(np.bincount(owner, weights=each, minlength=service.size).astype(np.int64))
    return RequestTrace(
        slot=np.concatenate(slots),
        service=np.concatenate(services),
        model=np.concatenate(models),
        input_mb=np.concatenate(sizes),
        thought_tokens=np.concatenate(tokens),
        n_slots=config.slots,
        n_models=len(config.models),
        n_services=n_services,
    )
