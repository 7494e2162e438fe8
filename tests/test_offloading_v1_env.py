from collections import defaultdict

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import environment  # noqa: F401  (registers the envs)
from edge_icl.experiment.rollout import run_policy
from environment.config import ConfigError
from environment.inference import llm_profile
from environment.offloading_v1 import (
    LOCAL,
    NUMERIC_FEATURES,
    OFFLOAD,
    OffloadingV1Env,
    OffloadingV1Task,
    best_lookup_accuracy,
    load_offloading_v1_config,
    offloading_v1_config,
    oracle_offload_share_by_service,
)
from solvers.offloading_greedy import QueueGreedyPolicy
from environment.policy import policy_generator
from solvers.reference import OraclePolicy, reference_policy

EDGE_QUALITY = llm_profile("llama3-8b").quality_index


def run(policy, seed, steps, config=None):
    return run_policy(policy, OffloadingV1Env(config), OffloadingV1Task(), steps, seed)


@pytest.fixture(scope="module")
def oracle_rows():
    """The oracle on the default config, seeds 0-2, 500 steps each."""
    return [row for seed in (0, 1, 2) for row in run(OraclePolicy(), seed, 500).rows]


def test_check_env_passes():
    check_env(OffloadingV1Env(), skip_render_check=True)


def test_registered_and_made_by_id():
    env = gym.make("EdgeICL/Offloading-v1")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert set(info["keywords"]) >= {"service_type", "estimated_output_tokens", "token_size", "required_quality", "edge_running",
                                     "edge_waiting", "estimated_edge_wait", "recent_cloud_latency", "price", "prompt_tokens", "upload_size", "uplink"}


def test_the_vector_face_holds_the_numbers_of_the_text_face():
    env = OffloadingV1Env()
    obs, info = env.reset(seed=4)
    for _ in range(30):
        obs, _, _, _, info = env.step(OFFLOAD)
    features, keywords = info["features"], info["keywords"]
    assert list(features) == env.feature_names and env.feature_names[-len(NUMERIC_FEATURES):] == list(NUMERIC_FEATURES)
    assert obs == pytest.approx(np.array(list(features.values()), dtype=np.float32))
    assert features[f"service={keywords['service_type']}"] == 1.0
    assert int(keywords["estimated_output_tokens"]) == pytest.approx(1000 * features["estimated_output_ktokens"])
    assert int(keywords["prompt_tokens"]) == pytest.approx(1000 * features["prompt_ktokens"])
    assert float(keywords["required_quality"]) == pytest.approx(features["required_quality"], abs=0.005)
    assert int(keywords["edge_running"]) == features["edge_running"] and int(keywords["edge_waiting"]) == features["edge_waiting"]
    assert float(keywords["estimated_edge_wait"].split()[0]) == pytest.approx(features["estimated_edge_wait_s"], abs=0.05)
    assert float(keywords["recent_cloud_latency"].split()[0]) == pytest.approx(features["recent_cloud_latency_s"], abs=0.05)
    assert keywords["price"].startswith(f"${features['output_price_usd_per_mtok']:.2f}")
    assert keywords["service_type"] in info["text"] and keywords["estimated_edge_wait"] in info["text"]


def test_same_seed_same_stream_whatever_the_actions():
    def stream(actions_seed: int) -> list:
        env = OffloadingV1Env()
        env.reset(seed=7)
        rng = np.random.default_rng(actions_seed)
        out = []
        for _ in range(120):
            *_, info = env.step(int(rng.integers(2)))
            out.append((info["executed_request"], info["executed_features"], info["executed_conditions"], info["local_reward"], info["offload_reward"]))
        return out

    assert stream(1) == stream(2)
    env = OffloadingV1Env()
    env.reset(seed=8)
    assert env.step(LOCAL)[-1]["executed_request"] != stream(1)[0][0]


def test_the_cloud_moves_and_the_edge_queues(oracle_rows):
    levels = {r["cloud_level"] for r in oracle_rows}
    assert levels == {"normal", "busy", "congested"}
    assert {r["price_level"] for r in oracle_rows} == {"standard", "peak"}
    assert max(r["edge_waiting"] for r in oracle_rows) >= 3
    assert np.mean([r["estimated_edge_wait_s"] > 0 for r in oracle_rows]) > 0.2
    latency = defaultdict(list)
    for r in oracle_rows:
        latency[r["cloud_level"]].append(r["cloud_latency_s"])
    assert np.mean(latency["normal"]) < np.mean(latency["busy"]) < np.mean(latency["congested"])


def test_required_quality_straddles_the_edge_index_for_every_service(oracle_rows):
    for service in {r["service"] for r in oracle_rows}:
        quality = [r["required_quality"] for r in oracle_rows if r["service"] == service]
        assert min(quality) < EDGE_QUALITY < max(quality)


def test_outcomes_add_up_their_legs():
    env = OffloadingV1Env()
    env.reset(seed=3)
    for step in range(40):
        local, offload = env.evaluate(LOCAL), env.evaluate(OFFLOAD)
        assert local.total_delay_s == pytest.approx(local.waiting_s + local.generation_s + local.download_s)
        assert local.waiting_s == pytest.approx(max(local.slot_wait_s, local.upload_s))
        assert offload.total_delay_s == pytest.approx(offload.upload_s + offload.backhaul_s + offload.cloud_latency_s + offload.generation_s + offload.download_s)
        assert local.cost_usd == 0.0 and offload.cost_usd > 0.0
        assert 1 <= local.edge_batch <= env.config.edge.max_batch
        env.step(step % 2)


def test_oracle_is_at_least_every_policy_at_every_step_of_the_same_stream():
    seed, steps = 5, 300
    oracle = run(OraclePolicy(), seed, steps).rows
    policies = [reference_policy(name, policy_generator(seed)) for name in ("random", "all-local", "all-offload")]
    policies.append(QueueGreedyPolicy(EDGE_QUALITY))
    for policy in policies:
        rows = run(policy, seed, steps).rows
        assert [r["oracle_reward"] for r in rows] == [r["reward"] for r in oracle]
        assert all(r["reward"] <= r["oracle_reward"] + 1e-9 for r in rows)
        assert sum(r["reward"] for r in rows) < sum(r["reward"] for r in oracle)


def test_greedy_stays_below_the_oracle(oracle_rows):
    greedy = [row for seed in (0, 1, 2) for row in run(QueueGreedyPolicy(EDGE_QUALITY), seed, 500).rows]
    assert np.mean([r["reward"] for r in greedy]) < np.mean([r["reward"] for r in oracle_rows])
    assert np.mean([r["action"] == r["oracle_action"] for r in greedy]) < 0.95


def test_no_lookup_on_service_and_token_level_reaches_0_8_against_the_oracle(oracle_rows):
    assert best_lookup_accuracy(oracle_rows, ("service", "token_level")) < 0.8


def test_oracle_offload_share_is_mixed_for_every_service(oracle_rows):
    shares = oracle_offload_share_by_service(oracle_rows)
    assert len(shares) == 4
    assert all(0.2 < share < 0.8 for share in shares.values()), shares


def test_higher_edge_load_means_longer_waits_and_more_offloading():
    light = run(OraclePolicy(), 1, 300, {"edge": {"arrival_rate_per_s": 0.1}}).rows
    heavy = run(OraclePolicy(), 1, 300, {"edge": {"arrival_rate_per_s": 0.23}}).rows
    assert np.mean([r["estimated_edge_wait_s"] for r in heavy]) > np.mean([r["estimated_edge_wait_s"] for r in light])
    assert np.mean([r["oracle_action"] for r in heavy]) > np.mean([r["oracle_action"] for r in light])


def test_kept_requests_take_an_edge_slot_only_when_the_cell_joins_the_queue():
    def running_after(action: int, join: bool) -> float:
        env = OffloadingV1Env({"edge": {"cell_requests_join_queue": join}})
        env.reset(seed=2)
        _, _, _, _, info = env.step(action)
        return info["features"]["edge_running"] + info["features"]["edge_waiting"]

    assert running_after(LOCAL, join=True) == running_after(OFFLOAD, join=True) + 1
    assert running_after(LOCAL, join=False) == running_after(OFFLOAD, join=False)


def test_the_uplink_delays_an_offloaded_request_but_hides_in_an_edge_wait():
    env = OffloadingV1Env({"uplink": {"uplink_to_downlink": 0.001}})  # a very slow uplink
    env.reset(seed=6)
    seen_hidden = False
    for _ in range(200):
        local, offload = env.evaluate(LOCAL), env.evaluate(OFFLOAD)
        assert offload.upload_s == local.upload_s > 0
        assert local.waiting_s >= local.upload_s - 1e-9
        seen_hidden |= local.slot_wait_s > local.upload_s
        env.step(OFFLOAD)
    assert seen_hidden


def test_truncates_after_episode_steps():
    env = OffloadingV1Env({"episode_steps": 3})
    env.reset(seed=0)
    assert [env.step(LOCAL)[3] for _ in range(3)] == [False, False, True]


def test_bad_config_is_one_line_naming_the_field(tmp_path):
    with pytest.raises(ConfigError, match="edge.max_batch"):
        offloading_v1_config({"edge": {"max_batch": 64}})
    with pytest.raises(ConfigError, match="arrival_rate"):
        offloading_v1_config({"requests": {"arrival_rate": 0.2}})
    with pytest.raises(ConfigError, match="serving_profile"):
        offloading_v1_config({"edge": {"serving_profile": "nope"}})
    path = tmp_path / "v1.yaml"
    path.write_text("edge:\n  arrival_rate_per_s: 0.15\n")
    assert load_offloading_v1_config(path).edge.arrival_rate_per_s == 0.15
