"""The least-AoT paper's formulas (papers/cached-model-least-aot.txt, eq. 18-27, (3), (5)) and its config."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from environment.caching.config import CachingConfig, caching_config, default_services, scaled_config
from environment.caching.formulas import (
    CostParts,
    accuracy_cost,
    age_of_thought,
    cloud_cost,
    computed_tokens,
    context_overflows,
    cot_accuracy,
    edge_inference_cost,
    energy_feasible,
    inference_flops,
    memory_feasible,
    new_thoughts,
    next_age_of_thought,
    slot_energy_budget,
    switching_cost,
    transmission_cost,
)
from environment.config import ConfigError


def test_new_thoughts_eq18_weights_served_requests_by_thoughts_per_request():
    assert new_thoughts([2, 0, 1], [1, 2, 3]) == 5.0


def test_age_of_thought_eq19_by_hand():
    # loaded at slot 0; 2 thoughts at slot 0, none at 1, 3 at 2; nu = 0.6
    assert age_of_thought([2, 0, 3], 0.6) == pytest.approx(0.36 * 2 + 0.6 * 0 + 3)
    assert age_of_thought([], 0.6) == 0.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 20), max_size=30), st.floats(0.05, 0.95))
def test_age_of_thought_recursion_equals_the_sum_of_eq19(thoughts, nu):
    aot = 0.0
    for k in thoughts:
        aot = next_age_of_thought(aot, k, nu)
    assert aot == pytest.approx(age_of_thought(thoughts, nu), rel=1e-9, abs=1e-9)


def test_older_thoughts_count_less_in_aot():
    assert age_of_thought([3, 0, 0], 0.6) < age_of_thought([0, 0, 3], 0.6)


def test_cot_accuracy_eq20_starts_at_zero_shot_and_rises_to_zero_shot_plus_gain():
    assert cot_accuracy(0.4, 0.2, 0.0, 0.8) == pytest.approx(0.4)
    assert cot_accuracy(0.4, 0.2, 2.0, 0.8) == pytest.approx(0.4 + 0.2 * (1 - 0.64))
    values = cot_accuracy(0.4, 0.2, np.arange(50), 0.8)
    assert np.all(np.diff(values) > 0) and values[-1] == pytest.approx(0.6, abs=1e-4)


def test_context_overflows_only_beyond_the_window():
    assert not context_overflows(1600, 448, 2048)  # exactly full is allowed (28c)
    assert context_overflows(1601, 448, 2048)


def test_cost_parts_eq21_to_27_by_hand():
    assert switching_cost([1, 0, 2], [6.5, 17.5, 1.0]) == pytest.approx(8.5)
    assert transmission_cost([100.0, 200.0], 0.0001) == pytest.approx(0.03)
    tokens = computed_tokens(200, 300, 300)
    assert tokens == 800
    flops = inference_flops(tokens, 2 * 65e9)
    assert edge_inference_cost(flops, 810e9, 3.0) == pytest.approx(800 * 130e9 / 810e9 / 1e3 * 3.0)
    assert accuracy_cost([0.7, 0.4], 2.0) == pytest.approx(2.0 * (0.3 + 0.6))
    assert cloud_cost([150.0, 100.0], 0.04, 1.0) == pytest.approx(0.04 * 250 + 2 * 1.0)
    parts = CostParts(switching=1.0, transmission=2.0, inference=3.0, accuracy=4.0, cloud=5.0)
    assert parts.edge == 10.0 and parts.total == 15.0
    parts.add(CostParts(cloud=1.0))
    assert parts.as_dict()["cloud"] == 6.0


def test_memory_constraint_3_sums_cached_sizes():
    assert memory_feasible([1, 0, 1], [156.48, 420.0, 420.0], 1920.0)
    assert not memory_feasible([1, 1, 1, 1, 1], [420.0] * 5, 1920.0)


def test_energy_budget_of_constraint_5_is_the_power_of_the_models_gpus_for_a_slot():
    budget = slot_energy_budget(160.0, 80.0, 300.0, 810e9, 2.0)
    assert budget == pytest.approx(2 * 300.0 * 810e9 * 2.0)
    assert energy_feasible(budget, budget) and not energy_feasible(budget * 1.001, budget)


def test_config_defaults_follow_section_VI_A():
    config = CachingConfig()
    assert (config.n_gpus, config.gpu_memory_gb, config.gpu_power_w, config.gpu_efficiency_flops_per_w) == (24, 80.0, 300.0, 810e9)
    assert (config.slots, config.n_users, len(config.services), len(config.models)) == (100, 10, 10, 10)
    assert config.vanishing_factor == 0.6
    assert {m.context_tokens for m in config.models} == {2048, 8192}
    assert (config.edge_access_cost_per_mb, config.cloud_access_cost_per_mb) == (0.0001, 0.04)
    assert (config.input_mb_low, config.input_mb_high, config.thought_tokens_high) == (100.0, 200.0, 200)


def test_accuracy_tables_scale_reasoning_by_perception_and_match():
    config = CachingConfig()
    a0, gain = config.accuracy_tables()
    service = config.services[0]  # image, best model 0 (LLaMA), equivalent 1 (GPT-3)
    assert a0[0, 0] == pytest.approx(0.777 * 0.55)
    assert a0[1, 0] == pytest.approx(0.777 * 0.50 * config.equivalent_match)
    assert gain[0, 0] == pytest.approx(0.777 * 0.20)
    assert a0[2, 0] == 0.0 and service.equivalent_model == 1


def test_config_rejects_unknown_field_and_names_it():
    with pytest.raises(ConfigError, match="n_gpu"):
        caching_config({"n_gpu": 4})


def test_config_rejects_thoughts_that_cannot_fit_a_fresh_context():
    services = [s.model_dump() for s in default_services(3)]
    services[2]["thoughts_per_request"] = 11  # 11 x 200 tokens > LLaMA's 2048
    with pytest.raises(ConfigError, match="context window"):
        caching_config({"services": services})


def test_config_rejects_a_service_on_a_missing_model():
    with pytest.raises(ConfigError, match="not a model index"):
        scaled_config(models=[m.model_dump() for m in CachingConfig().models[:2]])


def test_scaled_config_rebuilds_services():
    assert len(scaled_config(n_services=4).services) == 4
    assert scaled_config(n_gpus=8).memory_capacity_gb == 640.0
