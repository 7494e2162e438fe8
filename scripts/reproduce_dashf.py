"""Reproduce Figs. 2 and 3 of the DASHF paper (Qian & Zhao, papers/dashf-user-association.txt).

Fig. 2(a)-(c): convergence of AO part 1, AO part 2 and DASHF for (10 users, 2 servers)
and (20, 3). Fig. 3(a): T_total, E_total and SCR of DASHF, AAUCO, GUCRO, RUCAA, GUCAA;
3(b): SCR vs the bandwidth b_max of each server, 10-100 MHz; 3(c): T, E and SCR of DASHF
under (omega_t, omega_e) trade-offs. Every number is measured on seeded instances and
written as CSV (row by row, as it is computed) beside its PNG under one run folder.

    python scripts/reproduce_dashf.py            # the full set (several minutes on 2 cores)
    python scripts/reproduce_dashf.py --quick    # fewer seeds and sweep points, (12, 3) for (20, 3)
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import typer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edge_icl.cli.app import err_console, progress_bar  # noqa: E402
from edge_icl.experiment.run_folder import RunFolder, run_name  # noqa: E402
from environment.adapter_training import AdapterTrainingConfig, adapter_training_config, generate_instance  # noqa: E402
from environment.config import MAX_SEEDS  # noqa: E402
from solvers.adapter_baselines import METHODS, run_method  # noqa: E402
from solvers.dashf import DashfSettings, MethodResult, dashf  # noqa: E402

WEIGHTS = [(0.1, 0.009), (0.3, 0.007), (0.5, 0.005), (0.7, 0.003), (0.9, 0.001)]  # Fig. 3(c); (0.1, 0.009) and (0.5, 0.005) are named in V-E


def run_all(config: AdapterTrainingConfig, seed: int, settings: DashfSettings, methods: tuple[str, ...] = METHODS) -> dict[str, MethodResult]:
    """Every method on the instance of `seed` (RUCAA draws from the same generator after the instance)."""
    rng = np.random.default_rng(seed)
    instance = generate_instance(config, rng)
    return {name: run_method(name, instance, rng, settings) for name in methods}


def figure2(topologies: list[tuple[int, int]], seed: int, settings: DashfSettings, files: RunFolder, out: Path, advance) -> None:
    """Fig. 2(a)-(c): objective of AO part 1 and 2 along the run, and y per Dinkelbach iteration."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for users, servers in topologies:
        result = dashf(generate_instance(adapter_training_config(n_users=users, n_servers=servers), np.random.default_rng(seed)), settings)
        label = f"({users} users, {servers} servers)"
        part1 = []
        for record in result.records:
            p1, p2 = record.steps["ao_part1"], record.steps["ao_part2"]
            best = max(p1.objectives)
            part1.append(best)
            files.append_row({"users": users, "servers": servers, "iteration": record.iteration, "series": "ao_part1_objective", "inner": 0, "value": best}, "fig2_convergence.csv")
            files.append_row({"users": users, "servers": servers, "iteration": record.iteration, "series": "ao_part1_sdr_bound", "inner": 0, "value": p1.bound}, "fig2_convergence.csv")
            for inner, value in enumerate(p2.objectives):
                files.append_row({"users": users, "servers": servers, "iteration": record.iteration, "series": "ao_part2_objective", "inner": inner, "value": value}, "fig2_convergence.csv")
        for i, y in enumerate(result.y_history):
            files.append_row({"users": users, "servers": servers, "iteration": i, "series": "dashf_y", "inner": 0, "value": y}, "fig2_convergence.csv")
        files.append_row({"users": users, "servers": servers, "iterations": result.iterations, "wall_s": result.wall_s, "scr": result.evaluation.scr, "feasible": result.feasible}, "fig2_timing.csv")
        iterations = range(1, len(part1) + 1)
        line = axes[0].plot(iterations, part1, "o-", label=f"{label} rounded")[0]
        axes[0].plot(iterations, [r.steps["ao_part1"].bound for r in result.records], "x--", color=line.get_color(), label=f"{label} SDR bound")
        first = result.records[0].steps["ao_part2"].objectives
        axes[1].plot(range(len(first)), first, "o-", label=label)
        axes[2].plot(range(len(result.y_history)), result.y_history, "o-", label=label)
        advance()
    titles = [
        "(a) AO part 1: objective of (6) at y (-> 0 as y converges)",
        "(b) AO part 2, Dinkelbach iteration 1: objective of (10)",
        "(c) DASHF: SCR y per Dinkelbach iteration",
    ]
    xlabels = ["Dinkelbach iteration", "FP step (0 = its starting point)", "Dinkelbach iteration"]
    for ax, title, xlabel in zip(axes, titles, xlabels):
        ax.set(title=title, xlabel=xlabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    axes[2].set_yscale("log")
    fig.tight_layout()
    fig.savefig(out / "fig2_convergence.png", dpi=120)
    plt.close(fig)


def figure3a(seeds: list[int], settings: DashfSettings, files: RunFolder, out: Path, advance) -> None:
    """Fig. 3(a): mean T_total, E_total and SCR of the five methods over seeds."""
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in METHODS}
    for seed in seeds:
        for name, result in run_all(adapter_training_config(), seed, settings).items():
            summary = result.summary()
            rows[name].append(summary)
            files.append_row({"seed": seed, "method": name, **summary}, "fig3a_methods.csv")
        advance()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, key, title in zip(axes, ("time_s", "energy_j", "scr"), ("T_total (s)", "E_total (J)", "SCR")):
        means = [np.mean([r[key] for r in rows[name]]) for name in METHODS]
        ax.bar(METHODS, means, color=["C3", "C0", "C1", "C2", "C4"])
        ax.set(title=f"{title}, mean of {len(seeds)} seeds", yscale="log")
    fig.tight_layout()
    fig.savefig(out / "fig3a_methods.png", dpi=120)
    plt.close(fig)


def figure3b(seeds: list[int], bandwidths_mhz: list[float], settings: DashfSettings, files: RunFolder, out: Path, advance) -> None:
    """Fig. 3(b): SCR of the five methods as b_max grows."""
    scr: dict[str, list[float]] = {name: [] for name in METHODS}
    for mhz in bandwidths_mhz:
        per_seed: dict[str, list[float]] = {name: [] for name in METHODS}
        for seed in seeds:
            for name, result in run_all(adapter_training_config(b_max_hz=mhz * 1e6), seed, settings).items():
                per_seed[name].append(result.evaluation.scr)
                files.append_row({"b_max_mhz": mhz, "seed": seed, "method": name, **result.summary()}, "fig3b_bandwidth.csv")
            advance()
        for name in METHODS:
            scr[name].append(float(np.mean(per_seed[name])))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in METHODS:
        ax.plot(bandwidths_mhz, scr[name], "o-", label=name)
    ax.set(title=f"(b) SCR vs b_max, mean of {len(seeds)} seeds", xlabel="b_max per server (MHz)", ylabel="SCR", yscale="log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "fig3b_bandwidth.png", dpi=120)
    plt.close(fig)


def figure3c(seeds: list[int], settings: DashfSettings, files: RunFolder, out: Path, advance) -> None:
    """Fig. 3(c): DASHF's T_total, E_total and SCR for each (omega_t, omega_e)."""
    means = []
    for omega_t, omega_e in WEIGHTS:
        rows = []
        for seed in seeds:
            result = run_all(adapter_training_config(omega_t=omega_t, omega_e=omega_e), seed, settings, ("DASHF",))["DASHF"]
            rows.append(result.summary())
            files.append_row({"omega_t": omega_t, "omega_e": omega_e, "seed": seed, **result.summary()}, "fig3c_weights.csv")
            advance()
        means.append([np.mean([r[k] for r in rows]) for k in ("time_s", "energy_j", "scr")])
    labels = [f"({t}, {e})" for t, e in WEIGHTS]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for i, (ax, title) in enumerate(zip(axes, ("T_total (s)", "E_total (J)", "SCR"))):
        ax.bar(labels, [m[i] for m in means])
        ax.set(title=f"(c) DASHF {title}, mean of {len(seeds)} seeds", xlabel="(omega_t, omega_e)")
    fig.tight_layout()
    fig.savefig(out / "fig3c_weights.png", dpi=120)
    plt.close(fig)


def main(
    quick: bool = typer.Option(False, "--quick", help="2 seeds, 3 bandwidths, (12, 3) instead of (20, 3): about a minute."),
    seed: int = typer.Option(1, help="First seed; seeds are seed, seed+1, ..."),
    seeds: int = typer.Option(5, min=1, max=MAX_SEEDS, help="Seeds per point of Fig. 3 (ignored with --quick)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
) -> None:
    """Reproduce DASHF paper Figs. 2(a)-(c) and 3(a)-(c): CSV + PNG under a run folder."""
    settings = DashfSettings()
    seed_list = list(range(seed, seed + (2 if quick else seeds)))
    topologies = [(10, 2), (12, 3)] if quick else [(10, 2), (20, 3)]
    bandwidths = [10.0, 50.0, 100.0] if quick else [float(b) for b in range(10, 101, 10)]
    folder = RunFolder(out, run_name("adapter-training", "reproduce-dashf", seed))
    folder.write_config({"seeds": seed_list, "topologies": topologies, "bandwidths_mhz": bandwidths, "weights": WEIGHTS,
                         "problem": adapter_training_config().model_dump(mode="json"), "dashf": settings.model_dump(mode="json")})
    total = len(topologies) + len(seed_list) * (1 + len(bandwidths) + len(WEIGHTS))
    try:
        with progress_bar() as progress:
            task = progress.add_task("reproduce DASHF figures", total=total)
            advance = lambda: progress.advance(task)  # noqa: E731
            progress.update(task, description="Fig. 2 convergence")
            figure2(topologies, seed, settings, folder, folder.path, advance)
            progress.update(task, description="Fig. 3(a) methods")
            figure3a(seed_list, settings, folder, folder.path, advance)
            progress.update(task, description="Fig. 3(b) bandwidth")
            figure3b(seed_list, bandwidths, settings, folder, folder.path, advance)
            progress.update(task, description="Fig. 3(c) weights")
            figure3c(seed_list, settings, folder, folder.path, advance)
    finally:
        folder.close()
    err_console.print(f"run folder: {folder.path}")


if __name__ == "__main__":
    typer.run(main)
