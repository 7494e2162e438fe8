"""The formulas of Offloading-v1, each with its source.

Builds on Zhou et al., "Generative AI as a Service in 6G Edge-Cloud: Generation Task
Offloading by In-context Learning" (papers/icl-task-offloading.txt): eq. (1) transmission,
(3)/(4c)/(4d) generation time, (4e) quality and (10) reward are the functions of
`environment.offloading.formulas` (v0's) and `environment.inference`, called here, never re-derived. What v1
adds: a decode time per token that grows with the edge's batch (a measured serving
profile), the prefill time of the prompt, the uplink and backhaul carrying the prompt,
a queue at the edge, a Markov-modulated cloud latency, and a per-token price.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from environment.offloading.formulas import offloading_reward, transmission_delay
from environment.inference import generation_time


def measured_tpot(decode_time_s: float, generated_tokens: float) -> float:
    """TPOT of a batched-decoding measurement: T_TG / TG.

    llama.cpp batched-bench (examples/batched-bench/README.md) generates TG tokens for
    each of B sequences in T_TG seconds and reports S_TG = B TG / T_TG. One decode step
    gives every sequence one token, so each sequence waits T_TG / TG per output token:
    the time per output token (ICL paper II-B) at decode batch B.
    """
    return decode_time_s / generated_tokens


def decode_time_per_token(batch: float, batch_sizes: Sequence[float], tpot_s: Sequence[float]) -> float:
    """TPOT(b): time per output token at decode batch b, along a measured serving profile.

    Linear interpolation between the measured batch sizes of the profile
    (serving_profiles.yaml); clamped to the first / last measured value outside them.
    It replaces the constant t^TPOT,edge of eq. (4c) when the edge serves a batch.
    """
    return float(np.interp(batch, batch_sizes, tpot_s))


def batch_slowdown(tpot_at_batch_s: float, tpot_at_one_s: float) -> float:
    """Slowdown of decoding in a batch: TPOT(b) / TPOT(1), read off a measured profile."""
    return tpot_at_batch_s / tpot_at_one_s


def anchored_tpot(tpot_at_one_s: float, slowdown: float) -> float:
    """TPOT(b) of a model known at batch 1 only: its t^TPOT (ICL IV-A) x the measured slowdown.

    Carries the shape of a measured batch profile over to the model whose single-stream
    TPOT the ICL paper gives (Llama3-8B, 1/75 s), assuming the same relative slowdown.
    """
    return tpot_at_one_s * slowdown


def prefill_time(prompt_tokens: float, prefill_tokens_per_s: float) -> float:
    """Time to first token as the prefill of the prompt: n^in / S_PP.

    The prefill phase of LLM inference produces the first token (ICL paper II-B, Fig. 2,
    after Splitwise [12]); llama.cpp batched-bench measures it as T_PP = PP / S_PP.
    """
    return prompt_tokens / prefill_tokens_per_s


def uplink_capacity(downlink_capacity_bps: float, uplink_to_downlink: float) -> float:
    """Uplink capacity of a user as a share of its PF downlink capacity C_{j,k} (eq. 2).

    The share is the UE's peak uplink/downlink rate ratio: 3GPP TS 36.306, UE category 4,
    51,024 / 150,752 bits per TTI = 0.338 (the default).
    """
    return downlink_capacity_bps * uplink_to_downlink


def prompt_upload_delay(prompt_tokens: float, prompt_token_bytes: float, uplink_bps: float) -> float:
    """Upload of the prompt over the radio: n^in s^in / C^up, eq. (1)'s first term on the uplink.

    s^in is the bytes uploaded per prompt token: the paper's s^token (4 bytes) for text,
    more for a service whose users attach files.
    """
    return transmission_delay(prompt_tokens, prompt_token_bytes, uplink_bps, offloaded=False, backhaul_delay_s=0.0)


def content_download_delay(output_tokens: float, token_bytes: float, downlink_bps: float) -> float:
    """Download of the generated content: n^token s^token / C_{j,k}, eq. (1)'s first term."""
    return transmission_delay(output_tokens, token_bytes, downlink_bps, offloaded=False, backhaul_delay_s=0.0)


def backhaul_delay(
    prompt_tokens: float, prompt_token_bytes: float, output_tokens: float, token_bytes: float, backhaul_rate_bps: float, fixed_delay_s: float
) -> float:
    """Backhaul time of an offloaded request: t^back of eq. (1) plus the bytes it carries.

    The fixed delay t^back of eq. (1), then the prompt up to the cloud and the content
    back, at the backhaul rate: t^back + (n^in s^in + n^token s^token) / R^back.
    """
    prompt = transmission_delay(prompt_tokens, prompt_token_bytes, backhaul_rate_bps, offloaded=True, backhaul_delay_s=fixed_delay_s)
    return prompt + transmission_delay(output_tokens, token_bytes, backhaul_rate_bps, offloaded=False, backhaul_delay_s=0.0)


def earliest_lane_start(lane_free_s: Sequence[float], ready_s: float) -> tuple[int, float]:
    """FIFO admission to the edge's `max_batch` decoding slots: (slot, start time).

    A request takes the slot that frees first and starts when that slot is free and its
    prompt has arrived: s = max(ready, min_k free_k). Ties go to the lowest slot.
    """
    lane = int(np.argmin(lane_free_s))
    return lane, max(ready_s, float(lane_free_s[lane]))


def local_service_delay(waiting_s: float, ttft_s: float, tpot_s: float, output_tokens: float, download_s: float) -> float:
    """Delay of a request served at the edge: waiting + TTFT + n^token TPOT(b) + download.

    Eq. (3)/(4c) with the edge's TTFT (prefill of the prompt) and the TPOT of the batch
    b it joins, after `waiting_s` = start - arrival (the queue wait, at least the prompt's
    upload, which overlaps the wait), plus the download of eq. (1). The request keeps the
    TPOT of the batch it starts in: later arrivals do not slow it (an approximation of
    continuous batching that keeps each request's outcome known when it is decided).
    """
    return waiting_s + float(generation_time(ttft_s, tpot_s, output_tokens)) + download_s


def cloud_service_delay(upload_s: float, backhaul_s: float, cloud_latency_s: float, cloud_generation_s: float, download_s: float) -> float:
    """Delay of an offloaded request: upload + backhaul + cloud latency + t^cloud + download.

    Eq. (1) and (4d) in series: the prompt goes up the radio and over the backhaul, waits
    the cloud's current latency (the Markov-modulated congestion), is generated with the
    cloud model's TTFT and TPOT (4d), and comes back over the backhaul and the downlink.
    """
    return upload_s + backhaul_s + cloud_latency_s + cloud_generation_s + download_s


def offloading_cost_usd(prompt_tokens: float, output_tokens: float, input_usd_per_mtok: float, output_usd_per_mtok: float, multiplier: float) -> float:
    """Money paid for one offloaded request: per-token prices (USD per 1M tokens) x the price level.

    The billing of LLM APIs (openai.com/api/pricing): input and output tokens at their
    own per-million-token price; `multiplier` is the current price level.
    """
    return multiplier * (prompt_tokens * input_usd_per_mtok + output_tokens * output_usd_per_mtok) / 1e6


def priced_offloading_reward(target_delay_s: float, total_delay_s: float, penalty: float, constraint_met: bool, price_weight_per_usd: float, cost_usd: float) -> float:
    """Reward (10) minus the weighted price: r = T^Target - t^total - r^penalty - w c.

    Eq. (10) of the ICL paper, with the money c spent on the cloud entering with weight
    w (reward units per USD); c = 0 at the edge.
    """
    return offloading_reward(target_delay_s, total_delay_s, penalty, constraint_met) - price_weight_per_usd * cost_usd


def mean_preserving_lognormal(rng: np.random.Generator, mean: float, log_sigma: float) -> float:
    """A draw of mean * LogNormal(-sigma^2 / 2, sigma): positive, with mean `mean`."""
    return float(mean * rng.lognormal(-0.5 * log_sigma**2, log_sigma)) if log_sigma > 0 else float(mean)


def exponential_sojourn(rng: np.random.Generator, mean_s: float) -> float:
    """Time spent in a state of a continuous-time Markov chain: Exp(1 / mean).

    Holding times of a CTMC are exponential (Norris, "Markov Chains", 1997, sec. 2.6);
    a Markov-modulated process keeps its parameters for such a time, then jumps.
    """
    return float(rng.exponential(mean_s))


def birth_death_jump(rng: np.random.Generator, level: int, n_levels: int) -> int:
    """Next level of a birth-death chain: one level up or down, with equal chance inside.

    From the lowest level the chain can only go up, from the highest only down. A
    birth-death chain moves congestion gradually (normal <-> busy <-> congested).
    """
    if n_levels == 1:
        return level
    if level == 0:
        return 1
    if level == n_levels - 1:
        return level - 1
    return level + (1 if rng.random() < 0.5 else -1)


def poisson_interarrival(rng: np.random.Generator, rate_per_s: float) -> float:
    """Time to the next request of a Poisson process of rate lambda: Exp(lambda)."""
    return float(rng.exponential(1.0 / rate_per_s))
