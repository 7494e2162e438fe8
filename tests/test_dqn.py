import pytest

pytest.importorskip("stable_baselines3")

from edge_icl.experiment.rollout import run_policy  # noqa: E402
from environment.offloading import OffloadingEnv, OffloadingTask, offloading_env_config  # noqa: E402
from solvers.dqn import DQNConfig, DQNPolicy, train_dqn  # noqa: E402
from solvers.reference import OraclePolicy  # noqa: E402

STEPS = 500


@pytest.fixture(scope="module")
def trained():
    seen = []
    policy = train_dqn(offloading_env_config(), seed=2, steps=STEPS, on_step=lambda *args: seen.append(args))
    return policy, seen


def test_dqn_trains_online_on_the_same_stream_as_every_policy(trained):
    _, seen = trained
    oracle = run_policy(OraclePolicy(), OffloadingEnv(), OffloadingTask(), STEPS, seed=2)
    assert len(seen) == STEPS
    assert [info["executed_request"]["n_tokens"] for *_, info in seen] == [r["n_tokens"] for r in oracle.rows]


def test_trained_dqn_learns_the_offloading_rule(trained):
    policy, _ = trained
    evaluation = run_policy(policy, OffloadingEnv(), OffloadingTask(), 300, seed=3)
    assert evaluation.summary["decision_accuracy"] >= 0.9
    oracle = run_policy(OraclePolicy(), OffloadingEnv(), OffloadingTask(), 300, seed=3).summary["mean_reward"]
    assert evaluation.summary["mean_reward"] <= oracle + 1e-9


def test_save_load_gives_the_same_decisions(trained, tmp_path):
    policy, _ = trained
    policy.save(tmp_path / "dqn.zip")
    loaded = DQNPolicy.load(tmp_path / "dqn.zip")
    a = run_policy(policy, OffloadingEnv(), OffloadingTask(), 100, seed=4)
    b = run_policy(loaded, OffloadingEnv(), OffloadingTask(), 100, seed=4)
    assert [r["action"] for r in a.rows] == [r["action"] for r in b.rows]


def test_same_seed_same_training():
    config = DQNConfig(learning_starts=16)
    runs = []
    for _ in range(2):
        seen = []
        train_dqn(offloading_env_config(), seed=5, steps=150, config=config, on_step=lambda s, a, r, i: seen.append((a, r)))
        runs.append(seen)
    assert runs[0] == runs[1]


def test_unknown_hyper_parameter_is_rejected():
    with pytest.raises(ValueError, match="learning_rat"):
        DQNConfig(learning_rat=0.1)


def test_dqn_takes_any_offloading_env_and_trains_on_its_stream():
    from environment.offloading_v1 import OffloadingV1Env, OffloadingV1Task

    seen = []
    train_dqn(OffloadingV1Env(), seed=1, steps=60, config=DQNConfig(learning_starts=16), on_step=lambda *args: seen.append(args))
    oracle = run_policy(OraclePolicy(), OffloadingV1Env(), OffloadingV1Task(), 60, seed=1)
    assert [info["executed_request"]["n_tokens"] for *_, info in seen] == [r["n_tokens"] for r in oracle.rows]
