import pytest

from agent.experience import BAD, GOOD, LatestPool, PrioritizedPool, as_keywords, evaluate_constraints, make_pool, most_relevant


def kw(service: str, level: str):
    return as_keywords({"service_type": service, "token_size": level})


KW = kw("reasoning", "medium")


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
    pool.add(kw("a", "short"), "local", 5.0, True, 0)
    pool.add(kw("b", "short"), "local", 1.0, True, 1)
    pool.add(kw("c", "short"), "local", 3.0, True, 2)
    assert sorted(dict(e.keywords)["service_type"] for e in pool.examples()) == ["a", "c"]


def test_latest_pool_keeps_the_latest_good_and_bad_experiences():  # baseline 1
    pool = LatestPool(capacity=2)
    pool.add(KW, "local", 1.0, False, 0)
    pool.add(KW, "offload", 2.0, True, 1)
    pool.add(KW, "local", 3.0, False, 2)
    assert [(e.step, e.evaluation) for e in pool.examples()] == [(1, GOOD), (2, BAD)]


def test_most_relevant_ranks_by_keyword_fields_matching_from_the_first_then_reward():
    pool = PrioritizedPool()
    pool.add(kw("reasoning", "long"), "offload", 30.0, True, 0)
    pool.add(KW, "offload", 20.0, True, 1)
    pool.add(kw("chatting", "medium"), "local", 40.0, True, 2)
    pool.add(kw("chatting", "long"), "local", 35.0, True, 3)
    closest = most_relevant(pool.examples(), KW, 3)
    # same keywords closest (last), then the same service type; a matching token size alone
    # counts no more than nothing in common, so the higher reward comes first among those
    assert [e.keywords for e in closest] == [kw("chatting", "medium"), kw("reasoning", "long"), KW]
    assert most_relevant(pool.examples(), KW, 0) == []


def test_the_pool_keeps_the_chosen_candidates_features():
    pool = PrioritizedPool()
    kept = pool.add(KW, "node 3", 5.0, True, 0, (("queue_ms", 1.5), ("link_ms", 0.7)))
    assert pool.examples()[0].features == (("queue_ms", 1.5), ("link_ms", 0.7)) == kept.features


def test_unknown_pool_or_size_is_rejected():
    with pytest.raises(ValueError, match="unknown pool"):
        make_pool("fifo", 4)
    with pytest.raises(ValueError, match="positive"):
        make_pool("latest", 0)
