from agent.experience import BAD, GOOD, LatestPool, PrioritizedPool, evaluate_constraints, make_pool, most_relevant

import pytest

KW = ("reasoning", "medium")


def test_new_keyword_combination_is_always_kept_as_good():  # III-B rule 1
    pool = PrioritizedPool()
    first = pool.add(KW, "local", -5.0, True, 0)
    assert first.evaluation == GOOD and pool.examples() == [first]


def test_prioritized_pool_replaces_only_on_higher_reward():  # III-B rule 2
    pool = PrioritizedPool()
    pool.add(KW, "local", 10.0, True, 0)
    worse = pool.add(KW, "offload", 9.0, True, 1)
    equal = pool.add(KW, "offload", 10.0, True, 2)
    assert worse.evaluation == BAD and equal.evaluation == BAD
    assert [e.decision for e in pool.examples()] == ["local"]
    better = pool.add(KW, "offload", 11.0, True, 3)
    assert better.evaluation == GOOD and pool.examples() == [better]


def test_evaluator_marks_a_broken_quality_constraint_bad_and_keeps_it_out():  # step 3, (4e)
    assert evaluate_constraints(False) == BAD and evaluate_constraints(True) == GOOD
    pool = PrioritizedPool()
    assert pool.add(KW, "local", 99.0, False, 0).evaluation == BAD
    assert len(pool) == 0


def test_full_pool_drops_its_worst_example_for_a_new_combination():
    pool = PrioritizedPool(capacity=2)
    pool.add(("a", "short"), "local", 5.0, True, 0)
    pool.add(("b", "short"), "local", 1.0, True, 1)
    pool.add(("c", "short"), "local", 3.0, True, 2)
    assert sorted(e.keywords[0] for e in pool.examples()) == ["a", "c"]


def test_latest_pool_keeps_the_latest_good_and_bad_experiences():  # baseline 1
    pool = LatestPool(capacity=2)
    pool.add(KW, "local", 1.0, False, 0)
    pool.add(KW, "offload", 2.0, True, 1)
    pool.add(KW, "local", 3.0, False, 2)
    assert [(e.step, e.evaluation) for e in pool.examples()] == [(1, GOOD), (2, BAD)]


def test_most_relevant_puts_the_same_keywords_last():
    pool = PrioritizedPool()
    pool.add(("reasoning", "long"), "offload", 30.0, True, 0)
    pool.add(KW, "offload", 20.0, True, 1)
    pool.add(("chatting", "medium"), "local", 40.0, True, 2)
    closest = most_relevant(pool.examples(), KW, 2)
    assert [e.keywords for e in closest] == [("reasoning", "long"), KW]
    assert most_relevant(pool.examples(), KW, 0) == []


def test_unknown_pool_or_size_is_rejected():
    with pytest.raises(ValueError, match="unknown pool"):
        make_pool("fifo", 4)
    with pytest.raises(ValueError, match="positive"):
        make_pool("latest", 0)
