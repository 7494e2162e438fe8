"""`edge-icl bench auction`: the LLM agent market's mechanisms on one setting (cached-model paper, VI-D)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from agent.cli.app import bench_app, err_console, fail, progress_bar, open_run_folder
from agent.cli.run_folder import dumps, run_name
from environment.config import ConfigError
from environment.market.config import MarketConfig, market_config
from solvers.auction import DQMSB_DQN, MECHANISMS, stream_seeds
from solvers.auction_experiment import compare_mechanisms


def read_market_config(path: Path | None, overrides: dict[str, Any]) -> MarketConfig:
    """The market config from an optional YAML mapping plus CLI overrides; exits 2 with one line if invalid."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text())
        except OSError as error:
            fail(f"cannot read market config {path}: {error.strerror}")
        except yaml.YAMLError as error:
            fail(f"market config {path} is not valid YAML: {str(error).splitlines()[0]}")
        if loaded is not None and not isinstance(loaded, dict):
            fail(f"market config {path} must be a mapping of fields, got {type(loaded).__name__}")
        data = loaded or {}
    try:
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


@bench_app.command("auction")
def bench_auction(
    seed: int = typer.Option(1, help="Run seed: spawns the training and the held-out evaluation round streams."),
    rounds: int = typer.Option(2000, min=1, help="Held-out rounds every mechanism is evaluated on."),
    train_rounds: int = typer.Option(15_000, min=100, help="Rounds DQMSB trains on (and optimal MSB fits its alpha on)."),
    ground_bs: int = typer.Option(None, help="Number of ground BSs (default 5, paper VI-A; Fig. 6(a) sweeps 3-7)."),
    config: Path = typer.Option(None, help="YAML mapping of MarketConfig fields (environment/market/config.py)."),
    as_json: bool = typer.Option(False, "--json", help='Print {"mechanisms": {name: {total_surplus, ground_surplus, satellite_surplus, revenue}}} (per-round means).'),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
) -> None:
    """Compare MSB, SPA, myopic MSB, optimal MSB and DQMSB on one market setting.

    DQMSB trains on TRAIN_ROUNDS rounds (optimal MSB fits its alpha on the same rounds);
    then every mechanism runs on the same ROUNDS held-out rounds. Reported numbers are
    per-round means. Writes config.yaml, training.csv (a row per DQMSB epoch),
    rounds.csv (a row per round and mechanism), mechanisms.csv and summary.json under a
    run folder in OUT, each row as it is produced.
    """
    market = read_market_config(config, {"n_ground_bs": ground_bs})
    train_seed, eval_seed = stream_seeds(seed)
    folder = open_run_folder(out, run_name("market", "auction-bench", seed))
    folder.write_config({"seed": seed, "train_seed": train_seed, "eval_seed": eval_seed, "rounds": rounds, "train_rounds": train_rounds,
                         "market": market.model_dump(mode="json"), "dqmsb_dqn": DQMSB_DQN.model_dump(mode="json")})
    epochs = math.ceil(train_rounds / market.rounds_per_episode)
    started = time.perf_counter()
    try:
        with progress_bar() as progress:
            task = progress.add_task(f"DQMSB training ({market.n_ground_bs} ground BSs)", total=epochs + len(MECHANISMS))

            def on_epoch(row: dict[str, Any]) -> None:
                folder.append_row(row, "training.csv")
                progress.advance(task)

            def on_mechanism(name: str, summary: dict[str, float]) -> None:
                folder.append_row({"mechanism": name, **summary}, "mechanisms.csv")
                progress.update(task, description=f"evaluated {name}")
                progress.advance(task)

            comparison = compare_mechanisms(market, seed, rounds, train_rounds, DQMSB_DQN, on_epoch, lambda row: folder.append_row(row, "rounds.csv"), on_mechanism)
    finally:
        folder.close()
    result = _json_safe({"mechanisms": comparison.reported()})
    folder.write_json("summary.json", _json_safe({**result, "detail": comparison.summaries, "optimal_msb_alpha": comparison.optimal_alpha,
                                                  "seed": seed, "wall_s": time.perf_counter() - started, "phase_wall_s": comparison.wall_s}))
    if as_json:
        typer.echo(dumps(result, indent=2))
    else:
        Console().print(_table(f"market, {market.n_ground_bs} ground BSs, seed {seed}, {rounds} held-out rounds (per-round means)", comparison.summaries))
        err_console.print(f"optimal MSB alpha {comparison.optimal_alpha}; run folder: {folder.path}")
