"""The edge LLM server: `max_batch` decoding slots fed first-come first-served.

A kept request takes the slot that frees first and starts when the slot is free and its
prompt has arrived; it decodes at the TPOT of the batch it starts in (the number of
requests decoding then, itself included), along the measured serving profile. Its
outcome depends only on requests admitted before it, so it is known exactly when the
request is decided (`plan`), and `commit` makes it happen.

The dispatcher does not know the true output sizes of the requests in service; its
estimate of the wait (`estimated_wait`) uses their estimated finish times, corrected
only by what it sees: a request it has seen finish frees its slot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from environment.inference import generation_time
from environment.offloading_v1.formulas import earliest_lane_start


@dataclass(frozen=True)
class EdgeJob:
    """One request in an edge slot: when it starts and finishes, truly and by estimate."""

    start_s: float
    finish_s: float
    estimated_finish_s: float


@dataclass(frozen=True)
class EdgePlan:
    """What keeping a request at the edge gives (not yet committed)."""

    lane: int
    arrival_s: float
    slot_free_s: float
    start_s: float
    batch: int
    ttft_s: float
    tpot_s: float
    finish_s: float
    estimated_finish_s: float

    @property
    def waiting_s(self) -> float:
        """Start - arrival: the queue wait, at least the prompt's upload."""
        return self.start_s - self.arrival_s

    @property
    def slot_wait_s(self) -> float:
        """The wait for a free slot alone (0 when a slot is free at arrival)."""
        return max(0.0, self.slot_free_s - self.arrival_s)


class EdgeServer:
    """The edge's decoding slots and the jobs in them.

    Parameters
    ----------
    tpot_by_batch_s: TPOT at decode batch 1, 2, ..., max_batch (its length is the number
        of decoding slots).
    ttft_s: time to first token of a prompt of a given number of tokens.
    """

    def __init__(self, tpot_by_batch_s: Sequence[float], ttft_s: Callable[[float], float]) -> None:
        self.tpot_by_batch_s = tuple(tpot_by_batch_s)
        self.ttft_s = ttft_s
        max_batch = len(self.tpot_by_batch_s)
        self.max_batch = max_batch
        self.lanes: list[list[EdgeJob]] = [[] for _ in range(max_batch)]

    # --- the state at time `now_s` ------------------------------------------------------
    def forget_finished(self, now_s: float) -> None:
        """Drop jobs finished by `now_s` (keeping each slot's last, which fixes when it frees)."""
        for lane in self.lanes:
            while len(lane) > 1 and lane[0].finish_s <= now_s:
                lane.pop(0)

    def lane_free_s(self) -> list[float]:
        """When each slot frees: the finish of its last job (0 for a slot never used)."""
        return [lane[-1].finish_s if lane else 0.0 for lane in self.lanes]

    def running(self, now_s: float) -> int:
        """Requests decoding at `now_s` (the current batch)."""
        return sum(job.start_s <= now_s < job.finish_s for lane in self.lanes for job in lane)

    def waiting(self, now_s: float) -> int:
        """Requests admitted but not started at `now_s` (waiting for a slot or their prompt)."""
        return sum(job.start_s > now_s for lane in self.lanes for job in lane)

    def estimated_lane_free_s(self, now_s: float) -> list[float]:
        """The dispatcher's view of when each slot frees: estimated finish of its last job,
        or now once it has been seen to finish (and at least now while it runs)."""
        free = []
        for lane in self.lanes:
            if not lane or lane[-1].finish_s <= now_s:
                free.append(now_s)
            else:
                free.append(max(now_s, lane[-1].estimated_finish_s))
        return free

    def estimated_wait(self, now_s: float) -> float:
        """The dispatcher's estimate of how long a request arriving now waits for a slot."""
        return min(self.estimated_lane_free_s(now_s)) - now_s

    # --- deciding on one request --------------------------------------------------------
    def plan(self, arrival_s: float, upload_s: float, prompt_tokens: float, output_tokens: float, estimated_tokens: float) -> EdgePlan:
        """The exact outcome of keeping a request that arrives at `arrival_s` (state unchanged)."""
        lane_free = self.lane_free_s()
        lane, start = earliest_lane_start(lane_free, arrival_s + upload_s)
        batch = 1 + sum(job.start_s <= start < job.finish_s for index, jobs in enumerate(self.lanes) if index != lane for job in jobs)
        ttft = self.ttft_s(prompt_tokens)
        tpot = self.tpot_by_batch_s[batch - 1]
        _, estimated_start = earliest_lane_start([self.estimated_lane_free_s(arrival_s)[lane]], arrival_s + upload_s)
        return EdgePlan(
            lane=lane,
            arrival_s=arrival_s,
            slot_free_s=lane_free[lane],
            start_s=start,
            batch=batch,
            ttft_s=ttft,
            tpot_s=tpot,
            finish_s=start + float(generation_time(ttft, tpot, output_tokens)),
            estimated_finish_s=estimated_start + float(generation_time(ttft, tpot, estimated_tokens)),
        )

    def commit(self, plan: EdgePlan) -> None:
        """Admit the planned request into its slot."""
        self.lanes[plan.lane].append(EdgeJob(plan.start_s, plan.finish_s, plan.estimated_finish_s))
