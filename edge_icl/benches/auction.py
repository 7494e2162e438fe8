"""`edge-icl bench auction`: the LLM agent market's mechanisms and the ICL agent on one setting (cached-model paper, VI-D).

The mechanisms (MSB, SPA, myopic MSB, optimal MSB, DQMSB) run on the held-out rounds of
the seed's evaluation stream (edge_icl/problems/auction.py). The learners (the ICL
agent and its no-LLM baselines lookup and bandit) play `EdgeICL/Market-v0`
seeded with that stream's seed: the same rounds, in the same order, learning online as
they go; their steps go to the bench folder's `transcript.jsonl`.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendError, BackendUnavailable
from agent.backends.registry import make_backend
from edge_icl.cli.agent_options import agent_settings, with_agent_options
from edge_icl.cli.app import bench_app, chosen_names, err_console, fail, note, open_run_folder, progress_bar
from edge_icl.experiment.bench import LearnerFactory, end_if_invalid, icl_agent, judge_fallbacks, lift_table, llm_lift, no_llm_learner, row_label
from edge_icl.experiment.rollout import run_policy
from edge_icl.cli.run import policy_facts
from edge_icl.experiment.run_folder import dumps, read_jsonl, run_name
from agent.prompting import PromptError
from environment.config import MAX_STEPS, ConfigError, read_yaml
from environment.market.config import MarketConfig, market_config
from environment.market.env import MarketEnv
from environment.market.rounds import ROUND_METRIC_KEYS, SUMMARY_KEYS
from environment.market.task import MarketTask
from agent.baselines.registry import NO_LLM_BASELINES
from solvers.auction import DQMSB_DQN, MECHANISMS, stream_seeds
from edge_icl.problems.auction import REPORTED, compare_mechanisms
from environment.policy import Policy

# Decision makers that learn as they play, on the same held-out rounds as the mechanisms.
LEARNERS: dict[str, LearnerFactory] = {
    "icl": icl_agent,
    **{name: no_llm_learner(name) for name in NO_LLM_BASELINES},  # lookup, bandit: what the LLM adds is measured beside it
}
BENCH_MECHANISMS = (*MECHANISMS, *LEARNERS)
# The default rows: every mechanism and the no-LLM learners (seconds); icl (an LLM call per round) on request.
DEFAULT_ROWS = (*MECHANISMS, *NO_LLM_BASELINES)


def read_market_config(path: Path | None, overrides: dict[str, Any]) -> MarketConfig:
    """The market config from an optional YAML mapping plus CLI overrides; exits 2 with one line if invalid."""
    try:
        data = {} if path is None else read_yaml(path, "market config")
        return market_config(data, **{key: value for key, value in overrides.items() if value is not None})
    except ConfigError as error:
        fail(str(error))
        raise  # unreachable


def _table(title: str, summaries: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title)
    table.add_column("mechanism")
    for header in ("total surplus", "ground-BS surplus", "satellite surplus", "revenue", "satellite wins", "of first-best"):
        table.add_column(header, justify="right")
    for name, s in summaries.items():
        table.add_row(name, f"{s['total_surplus']:.3f}", f"{s['ground_surplus']:.3f}", f"{s['satellite_surplus']:.3f}", f"{s['revenue']:.3f}", f"{s['satellite_share']:.1%}", f"{s['efficiency']:.1%}")
    return table


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null (no NaN/Infinity in any JSON written)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def chosen_mechanisms(text: str) -> list[str]:
    """The --mechanisms list, checked: known names, each once, in BENCH_MECHANISMS order ("all": every one); ConfigError otherwise."""
    return chosen_names(text, BENCH_MECHANISMS, "--mechanisms", every="all", known_order=True)


def learner_row(name: str, task_row: dict[str, Any]) -> dict[str, Any]:
    """A learner's round as rounds.csv holds the mechanisms' (`evaluate`'s row): mechanism, round, alpha, `round_metrics`."""
    return {"mechanism": name, "round": task_row["round"], "alpha": task_row["alpha"], **{key: task_row[key] for key in ROUND_METRIC_KEYS}}


@bench_app.command("auction")
@with_agent_options
def bench_auction(
    seed: int = typer.Option(1, help="Run seed: spawns the training and the held-out evaluation round streams."),
    # A round is a step of the market: MAX_STEPS, as for any run.
    rounds: int = typer.Option(2000, min=1, max=MAX_STEPS, help="Held-out rounds every mechanism (and learner) is evaluated on; a few hundred with icl (seconds per LLM call)."),
    # At most 300,000 training rounds, 10 x the 30,000 of Fig. 5 (scripts/reproduce_auction.py):
    # DQN's training time grows with them (minutes per 30,000 rounds on 2 cores).
    train_rounds: int = typer.Option(15_000, min=100, max=300_000, help="Rounds DQMSB trains on (and optimal MSB fits its alpha on)."),
    ground_bs: int = typer.Option(None, help="Number of ground BSs (default 5, paper VI-A; Fig. 6(a) sweeps 3-7)."),
    config: Path = typer.Option(None, help="YAML mapping of MarketConfig fields (environment/market/config.py)."),
    mechanisms: str = typer.Option(
        ",".join(DEFAULT_ROWS), help=f"Comma-separated rows ({', '.join(BENCH_MECHANISMS)}), or all; the default leaves out icl (an LLM call per round: with icl use --rounds 200 or so)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help='Print {"mechanisms": {name: {total_surplus, ground_surplus, satellite_surplus, revenue}}} (per-round means), and "llm_lift" when icl and lookup ran.'
    ),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
    **agent_options: Any,
) -> None:
    """Compare MSB, SPA, myopic MSB, optimal MSB, DQMSB, the ICL agent and its no-LLM baselines on one market setting.

    DQMSB trains on TRAIN_ROUNDS rounds (optimal MSB fits its alpha on the same rounds);
    then every mechanism runs on the same ROUNDS held-out rounds, and every learner (icl,
    lookup, bandit) plays them in order, learning as it goes. Reported numbers are
    per-round means; with icl and lookup, the LLM lift = icl - lookup on the same rounds.
    Writes config.yaml, training.csv (a row per DQMSB epoch), rounds.csv (a row per
    round and mechanism or learner), mechanisms.csv, transcript.jsonl (every step of
    icl and lookup) and summary.json under a run folder in OUT, each row as it is produced.
    A learner whose fallback made more than --max-fallback-share of its LLM decisions is
    marked valid: false; the bench writes everything, then exits with 3.
    """
    market = read_market_config(config, {"n_ground_bs": ground_bs})
    try:
        chosen = chosen_mechanisms(mechanisms)
        learning = [name for name in chosen if name in LEARNERS]
        agent = agent_settings(agent_options)
        backend = functools.cache(lambda: make_backend(agent.backend, agent.backend_options, seed))
        sink: dict[str, Any] = {"write": lambda record: None}  # the bench folder's transcript.jsonl, once it exists
        train_seed, eval_seed = stream_seeds(seed)
        text_face = MarketTask(market)

        def build(name: str) -> Policy:
            return LEARNERS[name](text_face, agent, seed, backend, lambda record: sink["write"]({"policy": name, "seed": seed, **record}))

        learners = {name: build(name) for name in learning}  # bad backend or prompt options fail here, before any run folder
    except (ConfigError, ValueError, PromptError, BackendUnavailable) as error:
        fail(str(error))
    folder = open_run_folder(out, run_name("market", "auction-bench", seed))
    folder.write_config({"seed": seed, "train_seed": train_seed, "eval_seed": eval_seed, "rounds": rounds, "train_rounds": train_rounds, "mechanisms": chosen,
                         "market": market.model_dump(mode="json"), "dqmsb_dqn": DQMSB_DQN.model_dump(mode="json"),
                         **({"icl": agent.model_dump(mode="json")} if learning else {})})
    sink["write"] = lambda record: folder.append_jsonl("transcript.jsonl", record)
    compared = [name for name in chosen if name in MECHANISMS]
    epochs = math.ceil(train_rounds / market.rounds_per_episode) if "dqmsb" in compared else 0
    started = time.perf_counter()
    learner_wall: dict[str, float] = {}
    learner_facts: dict[str, dict[str, Any]] = {}
    learner_rows: dict[tuple[str, int], list[dict[str, Any]]] = {}  # (name, seed) -> its task rows, for `llm_lift`
    try:
        with progress_bar() as progress:
            bar = progress.add_task(f"DQMSB training ({market.n_ground_bs} ground BSs)" if epochs else "mechanisms", total=epochs + len(compared) + len(learning) * rounds)

            def on_epoch(row: dict[str, Any]) -> None:
                folder.append_row(row, "training.csv")
                progress.advance(bar)

            def on_mechanism(name: str, summary: dict[str, float]) -> None:
                folder.append_row({"mechanism": name, **summary}, "mechanisms.csv")
                progress.update(bar, description=f"evaluated {name}")
                progress.advance(bar)

            comparison = compare_mechanisms(
                market, seed, rounds, train_rounds, DQMSB_DQN, on_epoch, lambda row: folder.append_row(row, "rounds.csv"), on_mechanism, names=compared
            )
            for name, learner in learners.items():
                progress.update(bar, description=f"{name} on the held-out rounds")

                def on_step(row: dict[str, Any], name: str = name) -> None:
                    folder.append_row(learner_row(name, row), "rounds.csv")
                    progress.advance(bar)

                clock = time.perf_counter()
                played = run_policy(learner, MarketEnv(market), text_face, rounds, eval_seed, on_step=on_step)
                learner_wall[name] = time.perf_counter() - clock
                learner_rows[(name, seed)] = played.rows
                # the mechanisms' summary (summarise_rounds); a learner changes as it plays, so no deviation test
                comparison.summaries[name] = {**{key: played.summary[key] for key in SUMMARY_KEYS}, "profitable_deviation_share": None}
                learner_facts[name] = {**policy_facts(learner), "mean_alpha": played.summary["mean_alpha"], "constraint_met_share": played.summary["constraint_met_share"]}
                folder.append_row({"mechanism": name, **comparison.summaries[name]}, "mechanisms.csv")
    except (BackendError, BackendUnavailable, PromptError) as error:
        folder.close()
        fail(f"{error} (run folder {folder.path} keeps the rows written so far)")
    finally:
        folder.close()
    result = _json_safe({"mechanisms": {name: {key: comparison.summaries[name][key] for key in REPORTED} for name in chosen}})
    invalid = judge_fallbacks(result["mechanisms"], read_jsonl(folder.path / "transcript.jsonl"), agent.max_fallback_share)
    lift = llm_lift(learner_rows, text_face.metrics, REPORTED)  # one seed: mean = the difference, no interval
    if lift:
        result["llm_lift"] = _json_safe({agent.backend: {"icl_minus_lookup": lift, "backend_options": agent.backend_options}})
    folder.write_json("summary.json", _json_safe({**result, "detail": comparison.summaries, "optimal_msb_alpha": comparison.optimal_alpha,
                                                  "learners": learner_facts,
                                                  "seed": seed, "wall_s": time.perf_counter() - started, "phase_wall_s": {**comparison.wall_s, **learner_wall}}))
    if as_json:
        typer.echo(dumps(result, indent=2))
    else:
        Console().print(_table(f"market, {market.n_ground_bs} ground BSs, seed {seed}, {rounds} held-out rounds (per-round means)", {row_label(name, result["mechanisms"][name]): comparison.summaries[name] for name in chosen}))
        if lift:
            Console().print(lift_table(f"LLM lift = icl - lookup ({agent.backend}), same {rounds} rounds", lift))
        if comparison.optimal_alpha is not None:
            err_console.print(f"optimal MSB alpha {comparison.optimal_alpha}")
    learned = "".join(f"; {name} {learner_wall[name]:.1f} s" for name in learning)
    note(f"total {time.perf_counter() - started:.1f} s{learned}; run folder: {folder.path}")
    end_if_invalid(f"bench {folder.path}", invalid, agent.max_fallback_share)
