"""Reproduce Figs. 2-5 of Picano et al. (papers/inference-aware-matching.txt): IAM vs its rivals.

Fig. 2 mean e2e delay vs mean number of users, Fig. 3 vs mean number of edge nodes,
Fig. 4 dropping probability vs mean deadline, Fig. 5 vs mean storage per user. Each
point averages `--runs` independent instances (1000 in the paper). The paper gives no
x-axis values in its text, so the swept means are ours, each a window of the section V
width around the mean (users +-5, nodes +-2, deadline +-1.25 ms, storage +-1.0).

Every figure has two panels: the paper's metric, and a second view that explains it
(eq. (5), which divides by all users, for Figs. 2-3; the unserved share for Figs. 4-5).

    python scripts/reproduce_matching.py --quick        # 50 runs per point
    python scripts/reproduce_matching.py --runs 1000    # the paper's count

Writes fig{2..5}.csv and fig{2..5}.png under runs/association__reproduce__{seed}__{time}/.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import typer  # noqa: E402

from edge_icl.cli.app import err_console, progress_bar  # noqa: E402
from edge_icl.experiment.run_folder import RunFolder, run_name  # noqa: E402
from environment.association import AssociationConfig  # noqa: E402
from solvers.matching import DISPLAY_NAMES, HEURISTICS  # noqa: E402
from edge_icl.problems.matching import collect, heuristic_rows, summarise  # noqa: E402

KEYS = ("mean_delay_ms", "objective_ms", "drop_probability", "unserved_share", "late_share")

# figure -> (x label, config field, half-width, means, (left metric, right metric))
FIGURES: dict[str, tuple[str, str, float, list[float], tuple[str, str]]] = {
    "fig2": ("mean number of users", "n_users", 5, [40, 60, 80, 100, 120, 140], ("mean_delay_ms", "objective_ms")),
    "fig3": ("mean number of edge nodes", "n_nodes", 2, [11, 13, 15, 17, 19, 21, 23, 25], ("mean_delay_ms", "objective_ms")),
    "fig4": ("mean deadline d_u (ms)", "deadline_ms", 1.25, [2.25, 4.0, 6.0, 8.0, 10.0, 12.0], ("drop_probability", "unserved_share")),
    "fig5": ("mean storage per user s_u", "user_storage", 1.0, [1.3, 1.7, 2.1, 2.5, 2.9, 3.3], ("drop_probability", "unserved_share")),
}
LABELS = {
    "mean_delay_ms": "mean e2e delay of served users (ms)",
    "objective_ms": "eq. (5): total delay / all users (ms)",
    "drop_probability": "dropping probability",
    "unserved_share": "share of users not served (storage)",
}
QUICK_RUNS = 50


def point_config(field: str, mean: float, half_width: float) -> AssociationConfig:
    """The section V setting with one range moved to [mean - w, mean + w]."""
    low, high = mean - half_width, mean + half_width
    bounds = (int(low), int(high)) if field in ("n_users", "n_nodes") else (low, high)
    return AssociationConfig(**{field: bounds})


def plot(path: Path, x_label: str, points: list[dict[str, Any]], metrics: tuple[str, str]) -> None:
    """Two panels, one line per solver."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, metrics):
        for name in HEURISTICS:
            mine = [p for p in points if p["solver"] == name]
            axis.plot([p["x"] for p in mine], [p[metric] for p in mine], marker="o", label=DISPLAY_NAMES[name])
        axis.set_xlabel(x_label)
        axis.set_ylabel(LABELS[metric])
        axis.grid(alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(
    # At most 100,000 runs per point, as bench matching's --runs.
    runs: int = typer.Option(1000, min=1, max=100_000, help="Independent runs per point (the paper: 1000)."),
    quick: bool = typer.Option(False, "--quick", help=f"{QUICK_RUNS} runs per point, for a smoke run."),
    seed: int = typer.Option(0, help="Run seed; run r of every point draws from the seed pair (seed, r)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
    only: list[str] = typer.Option([], help="Figures to make (fig2..fig5); all by default."),
) -> None:
    """Figs. 2-5 of the inference-aware matching paper: CSV + PNG under a run folder."""
    runs = QUICK_RUNS if quick else runs
    wanted = only or list(FIGURES)
    unknown = sorted(set(wanted) - set(FIGURES))
    if unknown:
        err_console.print(f"[bold red]error:[/] --only: unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
        raise typer.Exit(code=2)
    folder = RunFolder(out, run_name("association", "reproduce", seed))
    folder.write_config({"runs": runs, "seed": seed, "figures": {f: FIGURES[f][:4] for f in wanted}})
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task("figures", total=runs * sum(len(FIGURES[f][3]) for f in wanted))
        for name in wanted:
            x_label, field, half_width, means, metrics = FIGURES[name]
            points = []
            for mean in means:
                rows = collect(heuristic_rows(point_config(field, mean, half_width), seed, runs),
                               lambda row: progress.advance(task) if row["solver"] == list(HEURISTICS)[-1] else None)
                for solver, values in summarise(rows, KEYS).items():
                    point = {"x": mean, "solver": solver, "runs": runs, **values}
                    points.append(point)
                    folder.append_row(point, f"{name}.csv")
            plot(folder.path / f"{name}.png", x_label, points, metrics)
    err_console.print(f"{len(wanted)} figures, {runs} runs per point, {time.perf_counter() - started:.1f} s: {folder.path}")


if __name__ == "__main__":
    typer.run(main)
