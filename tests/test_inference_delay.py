import pytest

from environment.offloading.formulas import offloading_reward, quality_met, service_delay, transmission_delay
from environment.inference import edge_cloud_pairs, generation_time, llm_catalogue, llm_profile


def test_generation_time_is_ttft_plus_tokens_times_tpot():
    # eq. (3) with the paper's edge model: 0.23 + 1000 / 75
    assert generation_time(0.23, 1 / 75, 1000) == pytest.approx(13.563333, abs=1e-6)
    assert llm_profile("gpt-4o").generation_time(1000) == pytest.approx(0.42 + 1000 / 32)


def test_catalogue_holds_the_paper_models_with_sources():
    catalogue = llm_catalogue()
    assert catalogue["llama3-8b"].ttft_s == 0.23 and catalogue["llama3-8b"].tpot_s == pytest.approx(1 / 75)
    assert catalogue["gpt-4o"].ttft_s == 0.42 and catalogue["gpt-4o"].tpot_s == pytest.approx(1 / 32)
    for name in ("gemma-7b", "gemini-1.5-pro", "llama2-7b", "llama2-70b"):
        assert catalogue[name].tpot_source and catalogue[name].quality_source
    assert catalogue["gemma-7b"].tpot_s == pytest.approx(1 / 155)
    assert edge_cloud_pairs() == [("llama3-8b", "gpt-4o"), ("gemma-7b", "gemini-1.5-pro"), ("llama2-7b", "llama2-70b")]


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(KeyError, match="gpt-4o"):
        llm_profile("gpt-5")


def test_transmission_delay_converts_token_bytes_to_bits_and_adds_backhaul():
    # 1000 tokens * 4 bytes * 8 bits / 1 Mbit/s = 0.032 s, + 0.1 s backhaul when offloaded
    assert transmission_delay(1000, 4, 1e6, offloaded=False, backhaul_delay_s=0.1) == pytest.approx(0.032)
    assert transmission_delay(1000, 4, 1e6, offloaded=True, backhaul_delay_s=0.1) == pytest.approx(0.132)


def test_service_delay_is_the_sum_of_objective_4():
    assert service_delay(0.5, 10.0, 30.0, offloaded=False) == pytest.approx(10.5)
    assert service_delay(0.5, 10.0, 30.0, offloaded=True) == pytest.approx(30.5)


def test_quality_constraint_4e():
    assert quality_met(0.8, edge_quality=0.684, cloud_quality=0.887, offloaded=True)
    assert not quality_met(0.8, edge_quality=0.684, cloud_quality=0.887, offloaded=False)
    assert quality_met(0.684, edge_quality=0.684, cloud_quality=0.887, offloaded=False)


def test_reward_10_subtracts_penalty_only_when_constraint_fails():
    assert offloading_reward(50.0, 20.0, 45.0, constraint_met=True) == pytest.approx(30.0)
    assert offloading_reward(50.0, 20.0, 45.0, constraint_met=False) == pytest.approx(-15.0)
