"""The market's text face (environment/market/task.py), its prompts (prompts/auction/) and the
ICL agent picking MSB's alpha (issue 15 item 5)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.problems.registry import OPTIMAL_MSB_HISTORY, PROBLEMS
from edge_icl.experiment.rollout import run_policy
from agent.experience import Experience, as_keywords
from agent.prompting import TaskPrompt
from environment.decision_task import DecisionTask
from environment.market import Market, MarketEnv, MarketTask, market_config
from environment.market.config import DEFAULT_ALPHA_LEVELS
from environment.market.formulas import msb_ground_wins
from environment.market.rounds import ROUND_METRIC_KEYS, SUMMARY_KEYS
from environment.market.task import LEAD_EDGES, RATIO_EDGES, alpha_label, ratio_level
from solvers.auction import FixedAlphaMSB, MechanismAsPolicy, MyopicMSB, evaluate, fitted_optimal_msb, optimal_alpha, stream_seeds

TASK = MarketTask()


def round_infos(seed: int = 1, count: int = 2000):
    """The info an auctioneer sees before each of `count` rounds of the env seeded with `seed`."""
    env = MarketEnv()
    _, info = env.reset(seed=seed)
    for _ in range(count):
        yield info
        _, _, _, _, info = env.step(0)


def test_market_task_is_a_decision_task_whose_labels_are_the_alpha_levels():
    assert isinstance(TASK, DecisionTask)
    assert TASK.name == "auction"
    assert TASK.decisions == ("1.0", "1.2", "1.4", "1.6", "1.8", "2.0", "2.2", "2.4", "2.6", "2.8", "3.0")
    assert [float(label) for label in TASK.decisions] == list(DEFAULT_ALPHA_LEVELS)
    assert list(TASK.content_free) == ["ratio", "lead", "bidders"]
    assert MarketTask(market_config(alpha_levels=(1.0, 1.25, 1.5), msb_alpha=1.5)).decisions == ("1.0", "1.25", "1.5")


def test_every_alpha_level_is_always_open_and_acts_as_its_level():
    for info in round_infos(count=50):
        candidates = TASK.candidates(info)
        assert [c.label for c in candidates] == list(TASK.decisions)
        assert [c.action for c in candidates] == list(range(len(DEFAULT_ALPHA_LEVELS)))


def bounds(keyword: str, prefix: str) -> tuple[float, float]:
    """(low, high) of a binned keyword: "b1/b2 1.2-1.4" -> (1.2, 1.4), "b1/b2 3.0+" -> (3.0, inf)."""
    text = keyword.removeprefix(prefix)
    if text.endswith("+"):
        return float(text[:-1]), np.inf
    low, high = text.split("-")
    return float(low), float(high)


def test_keywords_name_the_bid_ratio_level_then_the_top_bids_lead_then_the_bidders():
    for info in round_infos(count=500):
        keywords = TASK.keywords(info)
        assert list(keywords) == ["ratio", "lead", "bidders"]  # most telling first
        bids = np.array(list(info["bids"].values()))
        low, high = bounds(keywords["ratio"], "b1/b2 ")
        assert low <= info["bid_ratio"] < high
        low, high = bounds(keywords["lead"], "b1/mean ")
        assert low <= bids.max() / bids.mean() < high
        assert keywords["bidders"] == "5 BSs"
    assert ratio_level(None) == "b1/b2 3.0+"  # no second bid: every alpha gives the agent to the top ground BS


def test_in_the_low_ratio_bins_the_keyword_fixes_every_alphas_allocation():
    """Within b1/b2 1.0-1.2, 1.2-1.4 and 1.4-1.6 a label means the same allocation (31) in every round,
    so the pool's example for these keywords transfers to the next round as it is."""
    allocations: dict[str, set[tuple[bool, ...]]] = {}
    for info in round_infos(count=2000):
        keyword = TASK.keywords(info)["ratio"]
        ground = tuple(bool(msb_ground_wins(info["highest_bid"], info["second_highest_bid"], alpha)) for alpha in DEFAULT_ALPHA_LEVELS)
        allocations.setdefault(keyword, set()).add(ground)
    for keyword in ("b1/b2 1.0-1.2", "b1/b2 1.2-1.4", "b1/b2 1.4-1.6"):
        (ground,) = allocations[keyword]
        low, _ = bounds(keyword, "b1/b2 ")
        assert ground == tuple(alpha <= low for alpha in DEFAULT_ALPHA_LEVELS)
    assert allocations["b1/b2 3.0+"] == {(True,) * len(DEFAULT_ALPHA_LEVELS)}
    assert len(allocations["b1/b2 1.6-2.0"]) == 2  # alpha 1.8 lies inside that bin


def test_few_keyword_combinations_hold_almost_every_round_so_the_default_pool_has_room():
    seen = Counter(tuple(TASK.keywords(info).values()) for info in round_infos(count=2000))
    assert len(seen) <= (len(RATIO_EDGES) + 1) * (len(LEAD_EDGES) + 1)
    assert sum(count for _, count in seen.most_common(16)) >= 0.99 * 2000  # the default pool holds 16 examples


def step_with(alpha: float, want_ground: bool, satellite_available: bool):
    """The step info of the first round (seed 1) whose satellite availability and MSB allocation under `alpha` are as asked."""
    env = MarketEnv()
    _, info = env.reset(seed=1)
    level = DEFAULT_ALPHA_LEVELS.index(alpha)
    for _ in range(2000):
        ground = bool(msb_ground_wins(info["highest_bid"], info["second_highest_bid"], alpha))
        available = env.current_round.satellite_available
        _, reward, _, _, after = env.step(level)
        if ground == want_ground and available == satellite_available:
            return info, reward, after
        info = after
    raise AssertionError("no such round")


def test_feedback_is_the_total_surplus_and_an_alpha_that_gives_the_satellite_the_agent_when_it_can_serve_meets_30b():
    info, reward, after = step_with(3.0, want_ground=False, satellite_available=True)
    feedback = TASK.feedback(after)
    assert after["winner"] == "satellite" and feedback.constraint_met
    assert feedback.reward == reward == after["total_surplus"] == after["satellite_value"]


def test_an_alpha_that_asks_for_the_satellite_when_its_coverage_is_too_short_is_a_bad_decision():
    info, reward, after = step_with(3.0, want_ground=False, satellite_available=False)
    assert after["winner"] != "satellite"  # the env hands the round to the top ground BS at b_(2)
    assert after["payment"] == pytest.approx(info["second_highest_bid"])
    assert TASK.feedback(after).constraint_met is False  # (30b) failed for the allocation alpha asked for


def test_an_alpha_that_gives_a_ground_bs_the_agent_always_meets_the_constraint():
    for available in (True, False):
        _, reward, after = step_with(1.0, want_ground=True, satellite_available=available)
        feedback = TASK.feedback(after)
        assert after["winner"].startswith("BS")
        assert feedback.constraint_met and feedback.reward == reward


def test_rows_and_metrics_of_an_msb_policy_equal_the_mechanisms_evaluation_on_the_same_rounds():
    config = market_config()
    market = Market(config)
    for rule in (FixedAlphaMSB(market, config.msb_alpha), MyopicMSB(market)):
        rollout = run_policy(MechanismAsPolicy(rule), MarketEnv(config), TASK, 250, seed=7)  # crosses an episode end (100 rounds)
        mechanism_rows: list[dict] = []
        reference = evaluate(rule, market.draw_rounds(np.random.default_rng(7), 250), mechanism_rows.append)
        assert [r["round"] for r in rollout.rows] == list(range(250))
        for row, expected in zip(rollout.rows, mechanism_rows):
            assert {k: row[k] for k in ("round", "alpha", *ROUND_METRIC_KEYS)} == {k: expected[k] for k in ("round", "alpha", *ROUND_METRIC_KEYS)}
        assert {k: rollout.summary[k] for k in SUMMARY_KEYS} == pytest.approx(reference)
        assert rollout.summary["constraint_met_share"] == np.mean([r["constraint_met"] for r in rollout.rows])


def test_alpha_labels_are_distinct_and_read_back_as_the_levels():
    assert alpha_label(1.0) == "1.0" and alpha_label(1.25) == "1.25"
    with pytest.raises(ValueError, match="equal labels"):
        MarketTask(market_config(alpha_levels=(1.0, 1.0000000001, 2.0), msb_alpha=2.0))


# --- prompts/auction -----------------------------------------------------------------------


def test_auction_prompt_describes_msb_in_the_papers_terms_and_scores_each_alpha():
    prompt = TaskPrompt(None, TASK)
    assert prompt.folder.name == "auction"
    info = next(round_infos())
    keywords = as_keywords(TASK.keywords(info))
    example = Experience(keywords, "1.4", 35.21, "good", 0)
    rendered = prompt.render([example], [example], keywords, TASK.candidates(info))
    system = rendered.messages[0]["content"]
    for term in ("modified second-bid (MSB) auction", "alpha", "performance bidders", "brand bidder", "total surplus", ", ".join(TASK.decisions)):
        assert term in system
    assert "Reward: 35.2" in rendered.stable and "Reward" not in rendered.variable  # the pool's rewards stay in the stable part
    assert rendered.messages[-1] == {"role": "assistant", "content": "Keywords: ({ratio}, {lead}, {bidders}), Decision:".format(**TASK.keywords(info))}
    assert prompt.answers(TASK.candidates(info)) == [f" {label}," for label in TASK.decisions]
    free = prompt.render([example], [example], TASK.content_free, TASK.candidates(info))
    assert free.stable == rendered.stable and "(N/A, N/A, N/A)" in free.variable  # calibration reuses the same KV prefix


def test_auction_prompt_keeps_the_variable_part_short_after_the_stable_pool():
    prompt = TaskPrompt(None, TASK)
    infos = list(round_infos(count=16))
    pool = [Experience(as_keywords(TASK.keywords(info)), "1.4", 30.0 + i, "good", i) for i, info in enumerate(infos)]
    rendered = prompt.render(pool, pool[-1:], TASK.keywords(infos[0]), TASK.candidates(infos[0]))
    assert len(rendered.variable) < len(rendered.stable) / 5
    assert rendered.variable.count("\n") == 1  # the closest example, then the query


# --- the problem registry and the ICL agent ---------------------------------------------------


def test_auction_is_registered_with_the_msb_mechanisms_that_act_on_the_env_as_policies():
    problem = PROBLEMS["auction"]
    assert set(problem.policies) == {"msb", "myopic-msb", "optimal-msb", "lookup", "bandit"}  # and the agent's no-LLM baselines
    config = problem.config(None)
    assert isinstance(problem.task(config), MarketTask) and isinstance(problem.env(config), MarketEnv)
    market = Market(config)
    optimal = fitted_optimal_msb(market, 1, OPTIMAL_MSB_HISTORY)
    train_seed, _ = stream_seeds(1)
    assert optimal.alpha == optimal_alpha(market, market.draw_rounds(np.random.default_rng(train_seed), OPTIMAL_MSB_HISTORY))[0]
    assert problem.policies["optimal-msb"](1, config).rule.alpha == optimal.alpha


def test_edge_icl_run_plays_myopic_msb_on_the_market_as_evaluate_does(tmp_path):
    result = CliRunner().invoke(app, ["run", "--problem", "auction", "--policy", "myopic-msb", "--steps", "120", "--seed", "4", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    market = Market(market_config())
    reference = evaluate(MyopicMSB(market), market.draw_rounds(np.random.default_rng(4), 120))
    assert summary["steps"] == 120 and summary["llm_calls"] == 0
    assert {k: summary[k] for k in SUMMARY_KEYS} == pytest.approx(reference)


@pytest.mark.slow
def test_icl_agent_picks_alpha_levels_with_the_bundled_model_and_reuses_the_stable_prefix(tmp_path):
    result = CliRunner().invoke(app, ["run", "--problem", "auction", "--steps", "12", "--seed", "3", "--epsilon", "0.2", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["backend"] == "llama-cpp" and summary["model"].startswith("SmolLM2-135M-Instruct")
    assert summary["steps"] == 12 and summary["llm_calls"] == 12 - summary["explored_steps"] > 1
    assert summary["parse_failures"] == 0
    (folder,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    rows = (folder / "steps.csv").read_text().splitlines()
    assert [r["step"] for r in records] == list(range(12)) and len(rows) == 13
    calls = [r for r in records if r["llm_call"]]
    for record in calls:
        assert record["parsed_ok"] and record["decision"] in TASK.decisions
        assert sorted(record["scores"]) == sorted(f" {label}," for label in TASK.decisions)  # every alpha scored
        assert record["prompt_tokens"] >= record["evaluated_tokens"] > 0
    # the stable prefix (task description and pool) is reused: later calls evaluate only part of the prompt
    assert any(r["evaluated_tokens"] < r["prompt_tokens"] / 2 for r in calls[1:])
