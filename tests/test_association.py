"""The association problem of Picano et al. (papers/inference-aware-matching.txt): formulas, config, generator."""

from __future__ import annotations

import numpy as np
import pytest

from environment.association import (
    UNSERVED,
    AssociationConfig,
    AssociationInstance,
    Assignment,
    association_config,
    communication_delay,
    e2e_delay,
    evaluate,
    generate_instance,
    inference_delay,
    mean_e2e_objective,
    queueing_delay,
    residual_storage,
)
from environment.config import ConfigError


def tiny_instance() -> AssociationInstance:
    """Two nodes of type 0 and 1, three users; numbers chosen for hand computation."""
    return AssociationInstance(
        user_type=np.array([0, 0, 1]),
        tokens=np.array([100, 200, 100]),
        deadline_ms=np.array([2.0, 7.0, 3.0]),
        storage=np.array([1.0, 2.0, 1.5]),
        node_type=np.array([0, 1]),
        capacity=np.array([3.0, 1.0]),
        inter_token_ms=np.array([0.01, 0.02]),
        comm_ms=np.array([[0.5, 0.6, 0.7], [0.4, 0.4, 0.4]]),
    )


def test_residual_storage_eq1_subtracts_allocated_sizes():
    alpha = np.array([[1, 0], [1, 0], [0, 1]])
    np.testing.assert_allclose(residual_storage([3.0, 4.0], [1.0, 1.5, 0.5], alpha), [0.5, 3.5])


def test_inference_delay_eq2_is_tokens_times_inter_token_latency():
    assert inference_delay(244, 0.02) == pytest.approx(4.88)


def test_e2e_delay_eq3_counts_communication_twice():
    assert e2e_delay(0.7, 4.88, 1.5) == pytest.approx(2 * 0.7 + 4.88 + 1.5)


def test_communication_delay_eq4_is_tokens_over_bandwidth():
    assert communication_delay(240, 400.0) == pytest.approx(0.6)


def test_queueing_delay_is_fifo_sum_of_earlier_inference_on_the_same_node():
    node_of = np.array([0, 1, 0, 0, UNSERVED])
    order = np.array([2, 0, 0, 1, 0])
    inference = np.array([1.0, 5.0, 2.0, 3.0, 0.0])
    # node 0 serves users 2 (t=0), 3 (t=1), 0 (t=2): waits 0, 2, 2+3.
    np.testing.assert_allclose(queueing_delay(node_of, order, inference), [5.0, 0.0, 0.0, 2.0, 0.0])


def test_objective_eq5_divides_by_all_users():
    assert mean_e2e_objective([2.0, 4.0, 0.0, 0.0], [True, True, False, False]) == pytest.approx(1.5)


def test_evaluate_hand_computed_tiny_instance():
    instance = tiny_instance()
    # users 1 then 0 on node 0; user 2 (s=1.5) does not fit node 1 (capacity 1): unserved.
    outcome = evaluate(instance, Assignment(node_of=np.array([0, 0, UNSERVED]), order=np.array([1, 0, 0])))
    d1 = 2 * 0.6 + 200 * 0.01
    d0 = 2 * 0.5 + 100 * 0.01 + 200 * 0.01
    np.testing.assert_allclose(outcome.delay_ms[:2], [d0, d1])
    assert np.isnan(outcome.delay_ms[2])
    assert outcome.mean_delay_ms == pytest.approx((d0 + d1) / 2)
    assert outcome.objective_ms == pytest.approx((d0 + d1) / 3)
    # user 0 (4.0 > 2.0) late, user 1 (3.2 <= 7) on time, user 2 unserved.
    assert outcome.drop_probability == pytest.approx(2 / 3)
    assert outcome.late_share == pytest.approx(1 / 3)


def test_evaluate_rejects_wrong_type_and_overfull_node():
    instance = tiny_instance()
    with pytest.raises(ValueError, match="task type"):
        evaluate(instance, Assignment(node_of=np.array([1, UNSERVED, UNSERVED]), order=np.zeros(3, dtype=int)))
    with pytest.raises(ValueError, match=r"\(7\)"):
        evaluate(instance, Assignment(node_of=np.array([UNSERVED, UNSERVED, 1]), order=np.zeros(3, dtype=int)))


def test_config_defaults_are_section_v_and_bad_input_is_one_line_error():
    config = AssociationConfig()
    assert config.n_nodes == (13, 17) and config.n_users == (95, 105) and config.deadline_ms == (1.0, 3.5)
    with pytest.raises(ConfigError, match="deadline_ms") as error:
        association_config({"deadline_ms": [3.0, 1.0]})
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="n_user"):
        association_config({"n_user": [1, 2]})


def test_generator_respects_section_v_ranges():
    instance = generate_instance(AssociationConfig(), np.random.default_rng(3))
    assert 13 <= instance.n_nodes <= 17 and 95 <= instance.n_users <= 105
    assert instance.tokens.min() >= 240 and instance.tokens.max() <= 248
    assert set(np.unique(instance.node_type)) <= {0, 1, 2}
    assert np.all((instance.comm_ms >= 0.6) & (instance.comm_ms <= 0.8))
    assert np.all((instance.deadline_ms >= 1.0) & (instance.deadline_ms <= 3.5))


def test_generator_same_seed_same_numbers():
    a = generate_instance(AssociationConfig(), np.random.default_rng(11))
    b = generate_instance(AssociationConfig(), np.random.default_rng(11))
    c = generate_instance(AssociationConfig(), np.random.default_rng(12))
    np.testing.assert_array_equal(a.comm_ms, b.comm_ms)
    np.testing.assert_array_equal(a.deadline_ms, b.deadline_ms)
    assert a.comm_ms.shape != c.comm_ms.shape or not np.array_equal(a.comm_ms, c.comm_ms)
