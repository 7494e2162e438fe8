import numpy as np
import pytest

from agent.exploration import EpsilonGreedy, EpsilonSchedule


def test_schedules_decay_as_defined():
    assert EpsilonSchedule("constant", 0.3).value(1000) == 0.3
    linear = EpsilonSchedule("linear", 0.5, epsilon_min=0.1, decay_steps=10)
    assert linear.value(0) == 0.5 and linear.value(5) == pytest.approx(0.3) and linear.value(50) == pytest.approx(0.1)
    exponential = EpsilonSchedule("exponential", 0.5, epsilon_min=0.05, decay_rate=0.9)
    assert exponential.value(2) == pytest.approx(0.5 * 0.81) and exponential.value(1000) == 0.05
    assert EpsilonSchedule("none").value(0) == 0.0


def test_no_exploration_never_explores_and_draws_nothing():  # baseline 2
    rng = np.random.default_rng(1)
    greedy = EpsilonGreedy(EpsilonSchedule("none"), rng)
    assert not any(greedy.explore(t) for t in range(100))
    assert rng.random() == np.random.default_rng(1).random()


def test_constant_epsilon_explores_at_its_rate_and_is_seeded():
    def draws(seed: int) -> list[bool]:
        greedy = EpsilonGreedy(EpsilonSchedule("constant", 0.3), np.random.default_rng(seed))
        return [greedy.explore(t) for t in range(4000)]

    assert abs(np.mean(draws(0)) - 0.3) < 0.03
    assert draws(0) == draws(0) and draws(0) != draws(1)


def test_bad_schedule_is_rejected():
    with pytest.raises(ValueError, match="unknown exploration"):
        EpsilonSchedule("greedy")
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonSchedule("constant", 1.5)
