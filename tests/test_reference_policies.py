import numpy as np
import pytest

from edge_icl.experiment.rollout import run_policy
from environment.offloading import OffloadingEnv, OffloadingTask
from environment.policy import policy_generator
from solvers.reference import REFERENCE_POLICIES, reference_policy


def rollout(name: str, seed: int, steps: int = 300):
    return run_policy(reference_policy(name, policy_generator(seed)), OffloadingEnv(), OffloadingTask(), steps, seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_never_loses_to_any_policy_on_the_same_stream(seed):
    oracle = rollout("oracle", seed)
    for name in REFERENCE_POLICIES:
        other = rollout(name, seed)
        # same stream: the same requests, step for step
        assert [r["n_tokens"] for r in other.rows] == [r["n_tokens"] for r in oracle.rows]
        # step by step, not just on average
        assert all(o["reward"] >= r["reward"] - 1e-9 for o, r in zip(oracle.rows, other.rows))
    assert oracle.summary["decision_accuracy"] == 1.0
    assert oracle.summary["mean_reward"] > rollout("random", seed).summary["mean_reward"]


def test_constant_policies_do_what_they_say():
    assert {r["action"] for r in rollout("all-local", 0, 50).rows} == {0}
    assert {r["action"] for r in rollout("all-offload", 0, 50).rows} == {1}


def test_random_policy_is_seeded_and_independent_of_the_world_stream():
    a, b = rollout("random", 4, 100), rollout("random", 4, 100)
    assert [r["action"] for r in a.rows] == [r["action"] for r in b.rows]
    assert 0.3 < np.mean([r["action"] for r in a.rows]) < 0.7


def test_unknown_policy_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown reference policy"):
        reference_policy("greedy", policy_generator(0))
