"""Reproduce Figs. 3-4 of Xu et al. (papers/cached-model-least-aot.txt): least-AoT vs FIFO, LFU, LRU, Belady.

Fig. 3(a) running average of the five cost parts over time slots, per policy;
Fig. 3(b) mean total cost per slot vs number of services, 3(c) vs number of GPUs,
3(d) vs number of users; Fig. 4(a) accuracy cost and 4(b) performance gain vs the
vanishing factor nu. Every point averages `--runs` episodes of `--slots` slots (100, as
the paper's VI-A; run r draws
its trace from the seed pair (seed, r)); every policy meets the same traces. The paper
gives no x values in its text: the swept values are ours, around its defaults
(10 services, 24 GPUs, 10 users, nu = 0.6).

The sweep panels have a second view: each policy's cost relative to FIFO's on the
same traces (paired, in %), where differences of a few percent are readable.

    python scripts/reproduce_caching.py --quick     # 3 runs per point
    python scripts/reproduce_caching.py             # 10 runs per point

Writes episodes.csv (one row per point, run and policy, as produced), fig3a.csv,
fig3b.csv, fig3c.csv, fig3d.csv, fig4.csv and fig3a..fig4b PNGs under
runs/caching__reproduce__{seed}__{time}/.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import typer  # noqa: E402

from edge_icl.cli.app import err_console, progress_bar  # noqa: E402
from edge_icl.experiment.run_folder import RunFolder, run_name  # noqa: E402
from environment.caching.config import scaled_config  # noqa: E402
from environment.caching.formulas import COST_PARTS  # noqa: E402
from solvers.caching import POLICIES  # noqa: E402
from edge_icl.problems.caching import instance_seed, play  # noqa: E402

# figure -> (x label, config field, swept values)
SWEEPS: dict[str, tuple[str, str, list[float]]] = {
    "fig3b": ("number of services", "n_services", [4, 6, 8, 10, 12, 14, 16, 18, 20]),
    "fig3c": ("number of GPUs", "n_gpus", [8, 12, 16, 20, 24, 28, 32]),
    "fig3d": ("number of users", "n_users", [5, 10, 15, 20, 25, 30]),
    "fig4": ("vanishing factor nu", "vanishing_factor", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
}
BASELINE = "fifo"
QUICK_RUNS = 3
STYLE = {"least-aot": ("tab:red", "o"), "fifo": ("tab:blue", "s"), "lfu": ("tab:green", "^"), "lru": ("tab:orange", "v"), "belady": ("black", "x")}
PART_COLOURS = {"switching": "tab:purple", "transmission": "tab:gray", "inference": "tab:cyan", "accuracy": "tab:olive", "cloud": "tab:brown"}


def episode_summary(env: Any) -> dict[str, float]:
    """Mean cost parts per slot, hit rate and CoT performance gain of a finished episode."""
    rows = [r.as_row() for r in env.records]
    out = {k: float(np.mean([r[k] for r in rows])) for k in ("total_cost", *COST_PARTS)}
    requests, served = sum(r["requests"] for r in rows), sum(r["edge_served"] for r in rows)
    out["hit_rate"] = sum(r["hits"] for r in rows) / requests if requests else float("nan")
    out["performance_gain"] = sum(r["cot_gain_sum"] for r in rows) / served if served else float("nan")
    return out


def aggregate(episodes: list[dict[str, Any]], metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per (x, policy): mean and standard error over runs of each metric, and the paired
    difference of the total cost to FIFO's in % (mean and standard error)."""
    points = []
    for x in sorted({e["x"] for e in episodes}):
        at_x = [e for e in episodes if e["x"] == x]
        base = {e["run"]: e["total_cost"] for e in at_x if e["policy"] == BASELINE}
        for policy in POLICIES:
            mine = [e for e in at_x if e["policy"] == policy]
            point: dict[str, Any] = {"x": x, "policy": policy, "runs": len(mine)}
            for metric in metrics:
                values = np.array([e[metric] for e in mine], dtype=float)
                point[metric] = float(values.mean())
                point[f"{metric}_se"] = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0
            diff = np.array([100.0 * (e["total_cost"] / base[e["run"]] - 1.0) for e in mine])
            point["vs_fifo_pct"] = float(diff.mean())
            point["vs_fifo_pct_se"] = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0
            points.append(point)
    return points


def plot_lines(axis: Any, points: list[dict[str, Any]], metric: str, label: str) -> None:
    """One line per policy with standard-error bars."""
    for policy in POLICIES:
        mine = [p for p in points if p["policy"] == policy]
        colour, marker = STYLE[policy]
        axis.errorbar([p["x"] for p in mine], [p[metric] for p in mine], yerr=[p[f"{metric}_se"] for p in mine],
                      color=colour, marker=marker, capsize=3, label=policy, linewidth=1.5, markersize=5)
    axis.set_ylabel(label)
    axis.grid(alpha=0.3)


def plot_panels(path: Path, title: str, x_label: str, points: list[dict[str, Any]], panels: list[tuple[str, str]]) -> None:
    """One panel per (metric, y label), one line per policy; a zero line under the "vs FIFO" ones."""
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2))
    for axis, (metric, label) in zip(np.atleast_1d(axes), panels):
        plot_lines(axis, points, metric, label)
        if metric.startswith("vs_fifo"):
            axis.axhline(0.0, color="gray", linewidth=0.8)
        axis.set_xlabel(x_label)
    np.atleast_1d(axes)[0].legend(fontsize=9)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


VS_FIFO = ("vs_fifo_pct", "total cost vs FIFO on the same traces (%)")
TOTAL = ("total_cost", "average total cost per slot (eq. 27)")


def horizons(slots: int) -> list[int]:
    """Ten horizons of Fig. 3(a), evenly spaced up to `slots` (10, 20, ..., 100 by default)."""
    return sorted({max(1, round(slots * k / 10)) for k in range(1, 11)})


def plot_running_costs(path: Path, rows: list[dict[str, Any]]) -> None:
    """Fig. 3(a): stacked running average of the five parts up to each horizon, one panel per policy."""
    figure, axes = plt.subplots(1, len(POLICIES), figsize=(3.2 * len(POLICIES), 4.2), sharey=True)
    for axis, policy in zip(axes, POLICIES):
        mine = [r for r in rows if r["policy"] == policy]
        x = [r["horizon"] for r in mine]
        bottom = np.zeros(len(x))
        for part in COST_PARTS:
            values = np.array([r[part] for r in mine])
            axis.bar(x, values, width=0.7 * (x[-1] / len(x)), bottom=bottom, color=PART_COLOURS[part], label=part)
            bottom += values
        axis.set_title(policy)
        axis.set_xlabel("time slots")
        axis.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("average cost per slot up to t")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(COST_PARTS), fontsize=9)
    figure.suptitle("Fig. 3(a): cost parts over time slots (running average)")
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(
    # At most 1,000 episodes per point (100 x the default), as bench caching's small instances.
    runs: int = typer.Option(10, min=2, max=1_000, help="Episodes per point (each 100 slots)."),
    quick: bool = typer.Option(False, "--quick", help=f"{QUICK_RUNS} episodes per point, for a smoke run."),
    seed: int = typer.Option(0, help="Run seed; episode r of every point draws from the seed pair (seed, r)."),
    slots: int = typer.Option(100, min=1, help="Slots per episode (paper VI-A: 100)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
) -> None:
    """Figs. 3-4 of the least-AoT paper: CSV + PNG under a run folder."""
    runs = QUICK_RUNS if quick else runs
    folder = RunFolder(out, run_name("caching", "reproduce", seed))
    default = scaled_config(slots=slots)
    folder.write_config({"runs": runs, "seed": seed, "slots": slots, "sweeps": {k: list(v) for k, v in SWEEPS.items()}, "default": default.model_dump(mode="json")})
    started = time.perf_counter()
    n_points = 1 + sum(len(values) for _, _, values in SWEEPS.values())
    try:
        with progress_bar() as progress:
            task = progress.add_task("episodes", total=n_points * runs * len(POLICIES))
            # Fig. 3(a): running averages at the default setting.
            slot_rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for run in range(runs):
                for policy in POLICIES:
                    env = play(default, instance_seed(seed, run), POLICIES[policy]())
                    slot_rows[(policy, run)] = [r.as_row() for r in env.records]
                    folder.append_row({"figure": "fig3a", "x": None, "run": run, "policy": policy, **episode_summary(env)}, "episodes.csv")
                    progress.advance(task)
            fig3a = []
            for policy in POLICIES:
                for horizon in horizons(slots):
                    row = {"policy": policy, "horizon": horizon, "runs": runs}
                    for part in (*COST_PARTS, "total_cost"):
                        row[part] = float(np.mean([np.mean([r[part] for r in slot_rows[(policy, run)][:horizon]]) for run in range(runs)]))
                    fig3a.append(row)
                    folder.append_row(row, "fig3a.csv")
            plot_running_costs(folder.path / "fig3a.png", fig3a)
            # Figs. 3(b)-(d) and 4: sweeps.
            for name, (x_label, field, values) in SWEEPS.items():
                episodes = []
                for x in values:
                    config = scaled_config(default, **{field: int(x) if field != "vanishing_factor" else float(x)})
                    for run in range(runs):
                        for policy in POLICIES:
                            progress.update(task, description=f"{name}: {field} = {x}")
                            env = play(config, instance_seed(seed, run), POLICIES[policy]())
                            episode = {"figure": name, "x": x, "run": run, "policy": policy, **episode_summary(env)}
                            folder.append_row(episode, "episodes.csv")
                            episodes.append(episode)
                            progress.advance(task)
                points = aggregate(episodes, ("total_cost", *COST_PARTS, "hit_rate", "performance_gain"))
                for point in points:
                    folder.append_row(point, f"{name}.csv")
                if name == "fig4":
                    plot_panels(folder.path / "fig4a.png", "Fig. 4(a): accuracy cost vs vanishing factor", x_label, points,
                                [("accuracy", "accuracy cost per slot (eq. 24)"), TOTAL])
                    plot_panels(folder.path / "fig4b.png", "Fig. 4(b): performance gain vs vanishing factor", x_label, points,
                                [("performance_gain", "CoT accuracy gain per edge request (A - a0, eq. 20)"), VS_FIFO])
                else:
                    plot_panels(folder.path / f"{name}.png", f"Fig. 3({name[-1]}): average total cost vs {x_label}", x_label, points, [TOTAL, VS_FIFO])
    finally:
        folder.close()
    err_console.print(f"{n_points} points x {runs} runs x {len(POLICIES)} policies in {time.perf_counter() - started:.1f} s: {folder.path}")


if __name__ == "__main__":
    typer.run(main)
