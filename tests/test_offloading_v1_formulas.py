import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from environment.offloading.formulas import offloading_reward
from environment.inference import llm_profile
from environment.offloading_v1.cloud import BirthDeathChain
from environment.offloading_v1.edge_server import EdgeServer
from environment.offloading_v1.formulas import (
    anchored_tpot,
    backhaul_delay,
    batch_slowdown,
    birth_death_jump,
    cloud_service_delay,
    content_download_delay,
    decode_time_per_token,
    earliest_lane_start,
    local_service_delay,
    mean_preserving_lognormal,
    measured_tpot,
    offloading_cost_usd,
    prefill_time,
    priced_offloading_reward,
    prompt_upload_delay,
    uplink_capacity,
)
from environment.offloading_v1.serving_profile import serving_profile, serving_profile_names

PROFILE = "llama-7b-f16-llamacpp"


# --- the measured serving profile ---------------------------------------------------------
def test_measured_tpot_is_decode_time_over_generated_tokens():
    # llama.cpp batched-bench README, PP 128, TG 128, B 8: T_TG = 7.344 s
    assert measured_tpot(7.344, 128) == pytest.approx(0.057375)


def test_profile_reproduces_the_published_rows():
    profile = serving_profile(PROFILE)
    assert profile.batch_sizes == (1, 2, 4, 8, 16, 32)
    # B = 1: mean of T_TG / TG over TG = 128 (3.079 s) and TG = 256 (6.329 s)
    assert profile.tpot(1) == pytest.approx((3.079 / 128 + 6.329 / 256) / 2)
    assert profile.tpot(32) == pytest.approx((8.801 / 128 + 19.223 / 256) / 2)
    # S_PP of the B = 1 rows: 1186.64 and 1196.70 tokens/s
    assert profile.prefill_tokens_per_s == pytest.approx((1186.64 + 1196.70) / 2)
    assert PROFILE in serving_profile_names()


def test_tpot_grows_with_the_batch_while_throughput_grows_too():
    profile = serving_profile(PROFILE)
    tpot = np.array([profile.tpot(b) for b in profile.batch_sizes])
    throughput = np.array(profile.batch_sizes) / tpot
    assert np.all(np.diff(tpot) > 0)
    assert np.all(np.diff(throughput) > 0)


def test_decode_time_per_token_interpolates_between_measured_batches():
    assert decode_time_per_token(3, [1, 2, 4], [0.01, 0.02, 0.04]) == pytest.approx(0.03)
    assert decode_time_per_token(8, [1, 2, 4], [0.01, 0.02, 0.04]) == pytest.approx(0.04)  # clamped


def test_anchored_tpot_is_the_llm_profile_at_batch_one_and_scales_with_the_measured_slowdown():
    profile = serving_profile(PROFILE)
    edge = llm_profile("llama3-8b")
    assert anchored_tpot(edge.tpot_s, profile.slowdown(1)) == pytest.approx(1 / 75)
    assert anchored_tpot(edge.tpot_s, profile.slowdown(8)) == pytest.approx(edge.tpot_s * profile.tpot(8) / profile.tpot(1))
    assert batch_slowdown(0.06, 0.02) == pytest.approx(3.0)


def test_prefill_time_is_prompt_tokens_over_prefill_speed():
    assert prefill_time(128, 1186.64) == pytest.approx(0.10787, rel=1e-4)


# --- radio, backhaul, delays, price, reward ------------------------------------------------
def test_uplink_is_the_category_4_share_of_the_downlink():
    assert uplink_capacity(3e6, 0.338) == pytest.approx(1.014e6)


def test_prompt_upload_and_content_download_carry_token_bytes_over_the_link():
    # 1,000 tokens x 4 bytes x 8 bits = 32 kbit at 320 kbit/s -> 0.1 s
    assert prompt_upload_delay(1000, 4.0, 320e3) == pytest.approx(0.1)
    assert content_download_delay(1000, 4.0, 320e3) == pytest.approx(0.1)


def test_backhaul_delay_is_the_fixed_delay_plus_prompt_and_content_bytes():
    # (500 + 1500) tokens x 32 bits = 64 kbit at 1 Mbit/s = 0.064 s, plus 0.1 s
    assert backhaul_delay(500, 4.0, 1500, 4.0, 1e6, 0.1) == pytest.approx(0.164)
    # an attached document: 500 tokens at 60 bytes -> 240 kbit, plus 48 kbit of content
    assert backhaul_delay(500, 60.0, 1500, 4.0, 1e6, 0.1) == pytest.approx(0.1 + 0.240 + 0.048)


def test_earliest_lane_start_waits_for_the_first_free_slot_and_the_prompt():
    assert earliest_lane_start([5.0, 3.0, 3.0], ready_s=1.0) == (1, 3.0)  # ties: lowest slot
    assert earliest_lane_start([5.0, 3.0], ready_s=4.0) == (1, 4.0)  # the prompt arrives later


def test_local_delay_is_waiting_plus_eq3_with_the_batch_tpot_plus_download():
    assert local_service_delay(2.0, 0.5, 0.02, 1000, 0.1) == pytest.approx(2.0 + 0.5 + 20.0 + 0.1)


def test_cloud_delay_is_the_sum_of_its_legs():
    assert cloud_service_delay(0.2, 0.15, 4.0, 31.67, 0.1) == pytest.approx(36.12)


def test_offloading_cost_follows_per_token_prices_and_the_price_level():
    # gpt-4o list price: $2.50 / 1M input, $10.00 / 1M output
    assert offloading_cost_usd(400, 1000, 2.5, 10.0, 1.0) == pytest.approx(0.011)
    assert offloading_cost_usd(400, 1000, 2.5, 10.0, 2.0) == pytest.approx(0.022)


def test_priced_reward_is_eq10_minus_the_weighted_cost():
    assert priced_offloading_reward(50, 30, 20, False, 500, 0.01) == pytest.approx(offloading_reward(50, 30, 20, False) - 5.0)
    assert priced_offloading_reward(50, 30, 20, True, 500, 0.0) == pytest.approx(20.0)


# --- the Markov-modulated cloud -------------------------------------------------------------
def test_mean_preserving_lognormal_keeps_the_mean():
    rng = np.random.default_rng(0)
    draws = [mean_preserving_lognormal(rng, 4.0, 0.3) for _ in range(20_000)]
    assert np.mean(draws) == pytest.approx(4.0, rel=0.02)
    assert mean_preserving_lognormal(rng, 4.0, 0.0) == 4.0


def test_birth_death_jump_moves_one_level_and_reflects_at_the_ends():
    rng = np.random.default_rng(1)
    assert birth_death_jump(rng, 0, 3) == 1
    assert birth_death_jump(rng, 2, 3) == 1
    assert {birth_death_jump(rng, 1, 3) for _ in range(50)} == {0, 2}
    assert birth_death_jump(rng, 0, 1) == 0


def test_birth_death_chain_spends_time_in_proportion_to_visits_times_sojourn():
    # Reflecting birth-death chain with symmetric jumps: the middle level is visited twice
    # as often as each end, so time shares are proportional to (1 x 600, 2 x 300, 1 x 200).
    chain = BirthDeathChain([600.0, 300.0, 200.0], np.random.default_rng(2))
    time_in = np.zeros(3)
    now, step = 0.0, 5.0
    for _ in range(400_000):
        time_in[chain.advance(now)] += step
        now += step
    expected = np.array([600.0, 600.0, 200.0]) / 1400.0
    assert time_in / time_in.sum() == pytest.approx(expected, abs=0.03)


def test_same_seed_same_chain():
    levels = [[BirthDeathChain([10.0, 20.0], np.random.default_rng(7)).advance(t) for t in range(0, 500, 3)] for _ in range(2)]
    assert levels[0] == levels[1]


# --- the edge server ---------------------------------------------------------------------------
def edge(max_batch=2, tpot=(0.01, 0.02)):
    return EdgeServer(tpot[:max_batch], lambda prompt_tokens: prompt_tokens / 1000.0)


def test_a_request_on_an_idle_edge_starts_when_its_prompt_arrives_alone_in_its_batch():
    server = edge()
    plan = server.plan(arrival_s=10.0, upload_s=0.5, prompt_tokens=200, output_tokens=1000, estimated_tokens=1000)
    assert (plan.start_s, plan.batch, plan.waiting_s, plan.slot_wait_s) == (10.5, 1, 0.5, 0.0)
    assert plan.finish_s == pytest.approx(10.5 + 0.2 + 1000 * 0.01)
    assert server.running(10.0) == 0  # planning changes nothing


def test_a_request_joining_a_running_one_decodes_at_the_batch_of_two():
    server = edge()
    server.commit(server.plan(0.0, 0.0, 0, 1000, 1000))  # runs [0, 10)
    plan = server.plan(5.0, 0.0, 0, 100, 100)
    assert plan.batch == 2 and plan.tpot_s == 0.02
    assert server.running(5.0) == 1 and server.waiting(5.0) == 0


def test_with_every_slot_busy_a_request_waits_for_the_first_to_free():
    server = edge()
    server.commit(server.plan(0.0, 0.0, 0, 1000, 1000))  # slot 0 until 10 s
    server.commit(server.plan(1.0, 0.0, 0, 1000, 1000))  # slot 1, batch 2, until 21 s
    plan = server.plan(2.0, 0.3, 0, 100, 100)
    assert plan.lane == 0 and plan.start_s == pytest.approx(10.0)
    assert plan.slot_wait_s == pytest.approx(8.0) and plan.waiting_s == pytest.approx(8.0)  # the upload hides in the wait


def test_the_dispatcher_estimates_the_wait_from_estimated_finishes_until_it_sees_a_finish():
    server = edge(max_batch=1, tpot=(0.01,))
    server.commit(server.plan(0.0, 0.0, 0, 1000, 500))  # truly until 10 s, estimated until 5 s
    assert server.estimated_wait(2.0) == pytest.approx(3.0)
    assert server.estimated_wait(7.0) == pytest.approx(0.0)  # overdue: expected to finish now
    assert server.estimated_wait(11.0) == 0.0  # seen to finish


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 30), st.floats(0, 2), st.integers(1, 3000), st.integers(1, 3000)), min_size=1, max_size=25))
def test_edge_plans_respect_slots_prompts_and_fifo(jobs):
    server = EdgeServer((0.013, 0.02, 0.03), lambda prompt_tokens: prompt_tokens / 1000.0)
    now = 0.0
    for gap, upload, tokens, estimate in jobs:
        now += gap
        before = server.lane_free_s()
        plan = server.plan(now, upload, 100, tokens, estimate)
        assert plan.start_s >= now + upload - 1e-9
        assert plan.start_s >= min(before) - 1e-9
        assert 1 <= plan.batch <= 3
        assert plan.finish_s > plan.start_s
        server.commit(plan)
        server.forget_finished(now)
        assert server.running(plan.start_s) <= 3
