"""The seeded world: a serving base station with its users and interfering cells, and the requests users send.

Built from a validated `WorldConfig` (or any config with its `radio` and `tasks`
sections) and one `numpy.random.Generator`; every draw (user drop, fading, requests)
comes from that generator, so the same seed and config give the same world and the
same request stream, bit for bit, whatever decides. Which LLMs serve the requests is
each decision problem's own choice, not the world's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from environment import radio
from environment.config import WorldConfig


@dataclass(frozen=True)
class Request:
    """One generation request i of user k (the unit the offloading problem decides on)."""

    user: int
    service: str
    task_class: str
    n_tokens: int
    required_quality: float
    token_level: int
    token_level_name: str


def token_level(n_tokens: float, edges: list[float]) -> int:
    """Bin an output token count into the level index used as keyword 2 of eq. (8)."""
    return int(np.searchsorted(np.asarray(edges, dtype=float), n_tokens, side="right"))


def hexagonal_neighbours(inter_site_distance_m: float, count: int) -> NDArray[np.float64]:
    """Positions (x, y) of the first `count` cells of the hexagonal ring around the origin."""
    angles = np.pi / 6 + np.arange(count) * np.pi / 3
    return inter_site_distance_m * np.column_stack([np.cos(angles), np.sin(angles)])


class Scenario:
    """A seeded radio cell with its users and their request stream (ICL paper section II, settings of IV-A).

    Parameters
    ----------
    config: the validated world configuration (its `radio` and `tasks` sections).
    rng: the run's generator; the scenario draws the user drop from it at once and
        every later fading sample and request from it as they are needed.
    """

    def __init__(self, config: WorldConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        r = config.radio
        # Uniform on the annulus [min_distance, cell_radius] around the serving BS at (0, 0).
        radius = np.sqrt(rng.uniform(r.min_distance_m**2, r.cell_radius_m**2, size=r.n_users))
        angle = rng.uniform(0.0, 2 * np.pi, size=r.n_users)
        self.user_positions = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
        self.interferer_positions = hexagonal_neighbours(r.inter_site_distance_m, r.n_interfering_bs)
        self.serving_distance_m = np.linalg.norm(self.user_positions, axis=1)
        self.interferer_distance_m = np.linalg.norm(
            self.user_positions[:, None, :] - self.interferer_positions[None, :, :], axis=2
        )
        self.rb_power_w = float(radio.dbm_to_watt(r.bs_power_dbm)) / r.n_resource_blocks
        # PF's average starts from each user's fair share of RBs at its fading-free rate.
        self.average_throughput_bps = self._rates(
            np.ones((r.n_users, r.n_resource_blocks)), np.ones((r.n_users, r.n_interfering_bs, r.n_resource_blocks))
        ).mean(axis=1) * (r.n_resource_blocks / r.n_users)

    def _rates(self, serving_fading: NDArray[np.float64], interferer_fading: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per (user, RB) rates of eq. (2) for given fading; interferers are fully loaded."""
        r = self.config.radio
        serving_gain = radio.channel_gain(self.serving_distance_m[:, None], serving_fading)
        interferer_gain = radio.channel_gain(self.interferer_distance_m[:, :, None], interferer_fading)
        interference = self.rb_power_w * interferer_gain.sum(axis=1)
        return radio.resource_block_rates(
            r.rb_bandwidth_hz, self.rb_power_w, serving_gain, interference, r.noise_density_dbm_hz
        )

    def schedule(self) -> NDArray[np.float64]:
        """Run one PF scheduling interval and return each user's link capacity (bit/s).

        Draws Rayleigh fading, allocates the RBs by proportional fairness, computes the
        interval's C_{j,k} by eq. (2) and folds it into PF's average throughput. A
        request's content spans many intervals, so the capacity it sees is that
        average (never zero, unlike one interval's C_{j,k} for a user given no RB).
        """
        r = self.config.radio
        serving_fading = radio.rayleigh_power_gain(self.rng, (r.n_users, r.n_resource_blocks))
        interferer_fading = radio.rayleigh_power_gain(self.rng, (r.n_users, r.n_interfering_bs, r.n_resource_blocks))
        rates = self._rates(serving_fading, interferer_fading)
        allocation = radio.proportional_fair_allocation(rates, self.average_throughput_bps)
        capacity = radio.link_capacity(rates, allocation)
        self.average_throughput_bps = radio.update_average_throughput(self.average_throughput_bps, capacity, r.pf_window)
        return self.average_throughput_bps.copy()

    def sample_request(self) -> Request:
        """Draw the next request: a user, a service of the drawn class, its tokens and tau."""
        t = self.config.tasks
        user = int(self.rng.integers(self.config.radio.n_users))
        wanted = "quality-preferred" if self.rng.random() < t.quality_preferred_share else "regular"
        candidates = [s for s in t.services if s.task_class == wanted] or list(t.services)
        service = candidates[int(self.rng.integers(len(candidates)))]
        n_tokens = max(1, int(round(self.rng.gamma(t.token_gamma_shape, service.mean_tokens / t.token_gamma_shape))))
        required = float(self.rng.uniform(service.quality_low, service.quality_high))
        level = token_level(n_tokens, t.token_level_edges)
        return Request(
            user=user,
            service=service.name,
            task_class=service.task_class,
            n_tokens=n_tokens,
            required_quality=required,
            token_level=level,
            token_level_name=t.token_level_names[level],
        )
