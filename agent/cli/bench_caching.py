"""`edge-icl bench caching`: least-AoT, FIFO, LFU, LRU and the offline references (Xu et al., VI-B)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from agent.cli.app import bench_app, err_console, fail, open_run_folder, progress_bar
from agent.cli.run_folder import dumps, run_name
from environment.caching.config import CachingConfig, caching_config
from environment.config import ConfigError
from solvers.caching import POLICIES
from solvers.caching_experiment import BENCH_KEYS, SMALL_CONFIG, instance_seed, milp_rows, policy_rows, solve_milp, summarise

SMALL_PREFIX = "small/"


def _read_config(path: Path | None, slots: int) -> CachingConfig:
    """The caching config of YAML `path` (None: the paper defaults) with `slots` slots."""
    try:
        data: Any = {} if path is None else yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read caching config {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"caching config {path} must be a mapping of fields, got {type(data).__name__}")
    return caching_config({**data, "slots": slots})


def _finite(value: float) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _table(result: dict[str, dict[str, Any]], slots: int, small_runs: int) -> Table:
    table = Table(title=f"caching: mean cost per slot, default setting over {slots} slots; {SMALL_PREFIX}*: {small_runs} small instances")
    table.add_column("policy")
    for key in BENCH_KEYS:
        table.add_column(key, justify="right")
    for name, values in result.items():
        table.add_row(name, *("-" if values[k] is None else f"{values[k]:.3f}" for k in BENCH_KEYS))
    return table


@bench_app.command("caching")
def bench_caching(
    seed: int = typer.Option(1, help="Seed of the default episode; small instance r uses the seed pair (seed, r)."),
    slots: int = typer.Option(100, min=1, help="Time slots of the default episode (paper VI-A: 100)."),
    small_runs: int = typer.Option(10, min=0, help="Small instances (4 models, 12 slots) where the exact MILP runs beside every policy."),
    milp_seconds: float = typer.Option(0.0, min=0.0, help="If > 0: also a 'milp' row on the default setting, the best schedule HiGHS finds in this time (gap in summary.json)."),
    config: Path | None = typer.Option(None, "--config", help="YAML mapping of CachingConfig fields (default: the paper's setting)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
    as_json: bool = typer.Option(False, "--json", help='Print {"policies": {name: {total_cost, switching, transmission, inference, accuracy, cloud, hit_rate}}}.'),
) -> None:
    """Mean cost per slot, its five parts and the hit rate of every eviction policy.

    Rows named after a policy (least-aot, fifo, lfu, lru, belady) are the default
    setting over SLOTS slots. Rows named small/<policy> and small/milp average
    SMALL_RUNS small instances, where the MILP is the exact optimum over the horizon.
    With --milp-seconds, a "milp" row on the default setting: the best schedule HiGHS
    finds in that time; summary.json holds its relative gap and lower bound.
    Writes config.yaml, slots.csv and small.csv (a row per policy and slot, as
    produced) and summary.json under a run folder in OUT.
    """
    try:
        default = _read_config(config, slots)
    except ConfigError as error:
        fail(str(error))
    folder = open_run_folder(out, run_name("caching", "bench", seed))
    folder.write_config({"seed": seed, "small_runs": small_runs, "default": default.model_dump(mode="json"), "small": SMALL_CONFIG.model_dump(mode="json")})
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    small: list[dict[str, Any]] = []
    try:
        with progress_bar() as progress:
            task = progress.add_task("caching", total=len(POLICIES) + small_runs)
            for name in POLICIES:
                progress.update(task, description=f"{name}, {slots} slots")
                for row in policy_rows(default, seed, [name], setting="default"):
                    folder.append_row(row, "slots.csv")
                    rows.append(row)
                progress.advance(task)
            policies_s = time.perf_counter() - started
            milp_default: dict[str, Any] = {}
            if milp_seconds > 0:
                progress.update(task, description=f"milp, {slots} slots (up to {milp_seconds:g} s)")
                best, milp = solve_milp(default, seed, milp_seconds, setting="default")
                for row in milp:
                    folder.append_row(row, "slots.csv")
                rows.extend(milp)
                milp_default = {"total_cost": best.objective / slots, "lower_bound": best.lower_bound / slots, "mip_gap": best.mip_gap, "solve_s": best.solve_s}
            for run in range(small_runs):
                progress.update(task, description=f"small instance {run + 1}/{small_runs}")
                run_seed = instance_seed(seed, run)
                for row in [*policy_rows(SMALL_CONFIG, run_seed, setting="small", run=run), *milp_rows(SMALL_CONFIG, run_seed, setting="small", run=run)]:
                    folder.append_row(row, "small.csv")
                    small.append(row)
                progress.advance(task)
    finally:
        folder.close()
    summary = {**summarise(rows), **{SMALL_PREFIX + k: v for k, v in summarise(small).items()}}
    result = {"policies": {name: {k: _finite(values[k]) for k in BENCH_KEYS} for name, values in summary.items()}}
    wall_s = time.perf_counter() - started
    folder.write_json(
        "summary.json",
        {**result, "performance_gain": {k: _finite(v["performance_gain"]) for k, v in summary.items()},
         "milp_default": milp_default, "seed": seed, "slots": slots, "small_runs": small_runs, "policies_wall_s": policies_s, "wall_s": wall_s},
    )
    if as_json:
        typer.echo(dumps(result, indent=2))
    else:
        Console().print(_table(result["policies"], slots, small_runs))
    if milp_default:
        err_console.print(f"milp on the default setting: {milp_default['total_cost']:.3f} per slot, lower bound {milp_default['lower_bound']:.3f} (gap {milp_default['mip_gap']:.2%}, {milp_default['solve_s']:.0f} s)")
    err_console.print(f"policies: {policies_s:.2f} s for {len(POLICIES)} x {slots} slots; total {wall_s:.2f} s; run folder: {folder.path}")
