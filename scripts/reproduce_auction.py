"""Reproduce Figs. 5 and 6 of the cached-model paper (Xu et al., papers/cached-model-least-aot.txt, VI-C, VI-D).

Fig. 5: DQMSB training convergence, the total, ground-BS and satellite surplus per epoch
(100 rounds) on the default setting, beside MSB, SPA, myopic and optimal MSB on the same
rounds; and the greedy DQMSB policy on held-out rounds as training goes on.
Fig. 6(a)-(d): total surplus vs the number of ground BSs (3-7), services, GPUs and users,
for DQMSB, optimal MSB, myopic MSB and SPA (plain MSB and first-best dashed, for reference).
Every number is measured on seeded round streams and written as CSV (row by row, as it
is computed) beside its PNG under one run folder.

    python scripts/reproduce_auction.py            # the full set (about 8 minutes of CPU, single-threaded)
    python scripts/reproduce_auction.py --quick    # short training, fewer rounds (about 2 minutes of CPU)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import typer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edge_icl.cli.app import err_console, progress_bar  # noqa: E402
from edge_icl.experiment.run_folder import RunFolder, run_name  # noqa: E402
from environment.market.config import MarketConfig, market_config  # noqa: E402
from environment.market.rounds import Market  # noqa: E402
from solvers.auction import DQMSB, DQMSB_DQN, FixedAlphaMSB, MyopicMSB, SecondPriceAuction, evaluate, optimal_msb, stream_seeds, train_dqmsb  # noqa: E402
from edge_icl.problems.auction import compare_mechanisms  # noqa: E402

SWEEPS = {  # Fig. 6 panel -> (config field, values, axis label)
    "a": ("n_ground_bs", [3, 4, 5, 6, 7], "number of ground BSs"),
    "b": ("n_services", [10, 12, 14, 16, 18], "number of services"),
    "c": ("n_gpus", [16, 20, 24, 28, 32], "number of GPUs per ground BS"),
    "d": ("n_users", [5, 10, 15, 20, 25], "number of users"),
}
STYLE = {  # mechanism -> (label, marker, line style, colour)
    "dqmsb": ("DQMSB", "o", "-", "C0"),
    "optimal-msb": ("optimal MSB", "s", "-", "C1"),
    "myopic-msb": ("myopic MSB", "^", "-", "C2"),
    "spa": ("SPA", "v", "-", "C3"),
    "msb": ("MSB (fixed alpha {alpha})", "x", "--", "C4"),
}
PARTS = ("total_surplus", "ground_surplus", "satellite_surplus")


def moving_average(values: list[float], window: int) -> np.ndarray:
    """Trailing mean over up to `window` epochs (the first points average what exists)."""
    values = np.asarray(values, dtype=float)
    cumulative = np.cumsum(np.r_[0.0, values])
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (cumulative[1:] - cumulative[starts]) / (np.arange(1, len(values) + 1) - starts)


def figure5(config: MarketConfig, seed: int, train_rounds: int, held_out: int, check_every: int, files: RunFolder, out: Path, advance) -> None:
    """Fig. 5: per-epoch surplus of DQMSB while it learns, and of the baselines on the same rounds."""
    market = Market(config)
    train_seed, eval_seed = stream_seeds(seed)
    history = market.draw_rounds(np.random.default_rng(train_seed), train_rounds)
    evaluation = market.draw_rounds(np.random.default_rng(eval_seed), held_out)
    per_epoch = config.rounds_per_episode
    baselines = {"msb": FixedAlphaMSB(market, config.msb_alpha), "spa": SecondPriceAuction(market), "myopic-msb": MyopicMSB(market),
                 "optimal-msb": optimal_msb(market, history)}
    held_out_baselines = {name: evaluate(mechanism, evaluation)["total_surplus"] for name, mechanism in baselines.items()}
    series = (*PARTS, "efficiency")
    curves: dict[str, dict[str, list[float]]] = {name: {key: [] for key in series} for name in ["dqmsb", *baselines]}
    greedy: list[tuple[int, float]] = []

    def on_episode(epoch: int, means: dict[str, float], dqmsb: DQMSB) -> None:
        rounds = history[epoch * per_epoch:(epoch + 1) * per_epoch]
        rows = {"dqmsb": {**means, "efficiency": means["total_surplus"] / means["first_best_surplus"]},
                **{name: evaluate(mechanism, rounds) for name, mechanism in baselines.items()}}
        for name, summary in rows.items():
            for key in series:
                curves[name][key].append(summary[key])
            files.append_row({"epoch": epoch, "mechanism": name, "policy": "epsilon-greedy (learning)" if name == "dqmsb" else "fixed rule",
                              **{key: summary[key] for key in (*series, "revenue", "first_best_surplus")}}, "fig5_convergence.csv")
        if epoch % check_every == check_every - 1:
            value = evaluate(dqmsb, evaluation)["total_surplus"]
            greedy.append((epoch, value))
            files.append_row({"epoch": epoch, "mechanism": "dqmsb", "held_out_rounds": held_out, "total_surplus": value}, "fig5_held_out.csv")
        advance()

    final = train_dqmsb(config, train_seed, train_rounds, DQMSB_DQN, on_episode)
    for name, value in held_out_baselines.items():
        files.append_row({"epoch": "", "mechanism": name, "held_out_rounds": held_out, "total_surplus": value}, "fig5_held_out.csv")

    window = 20
    fig, axes = plt.subplots(2, 3, figsize=(18, 9.5))
    epochs = np.arange(1, len(curves["dqmsb"]["total_surplus"]) + 1)
    titles = {"total_surplus": "(a) total surplus (30a)", "ground_surplus": "(b) ground-BS surplus", "satellite_surplus": "(c) satellite surplus",
              "efficiency": "(d) share of first-best on the same rounds"}
    for ax, key in zip([*axes[0], axes[1, 0]], series):
        for name, curve in curves.items():
            label, _, line, colour = STYLE[name]
            values = np.asarray(curve[key]) * (100 if key == "efficiency" else 1)
            if name == "dqmsb":
                ax.plot(epochs, values, color=colour, alpha=0.25, lw=0.8)
            ax.plot(epochs, moving_average(list(values), window), ls=line, color=colour, label=label.format(alpha=config.msb_alpha), lw=2.4 if name == "dqmsb" else 1.4)
        ax.set(title=f"{titles[key]}, {window}-epoch mean", xlabel="epoch (100 rounds)", ylabel="% of first-best" if key == "efficiency" else "surplus per round")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=9)
    ax = axes[1, 1]
    if greedy:
        ax.plot([e + 1 for e, _ in greedy], [v for _, v in greedy], "o-", color=STYLE["dqmsb"][3], lw=2.4, label="DQMSB (greedy policy so far)")
    for name, value in held_out_baselines.items():
        label, _, _, colour = STYLE[name]
        ax.axhline(value, ls="--", color=colour, label=label.format(alpha=config.msb_alpha))
    ax.set(title=f"(e) total surplus on {held_out} held-out rounds", xlabel="epoch (100 rounds)", ylabel="surplus per round")
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    ax = axes[1, 2]
    levels = final.levels(evaluation)
    counts = np.bincount(levels, minlength=len(config.alpha_levels))
    ax.bar([f"{a:.1f}" for a in config.alpha_levels], 100 * counts / counts.sum(), color=STYLE["dqmsb"][3], label="DQMSB after training")
    ax.axvline(list(config.alpha_levels).index(baselines["optimal-msb"].alpha), color=STYLE["optimal-msb"][3], ls="--", label="optimal MSB's fixed alpha")
    ax.set(title=f"(f) alpha DQMSB picks on the held-out rounds", xlabel="price scaling factor alpha", ylabel="% of rounds")
    ax.legend(fontsize=9)
    fig.suptitle(f"Fig. 5: DQMSB training convergence ({config.n_ground_bs} ground BSs, seed {seed}); light line: DQMSB per epoch; "
                 "(a)-(d): every mechanism on the rounds DQMSB trained on")
    fig.tight_layout()
    fig.savefig(out / "fig5_convergence.png", dpi=110)
    plt.close(fig)


def figure6(seed: int, train_rounds: int, eval_rounds: int, files: RunFolder, out: Path, advance) -> None:
    """Fig. 6(a)-(d): total surplus of every mechanism along each sweep (default elsewhere)."""
    cache: dict[tuple[str, int], dict] = {}  # the default setting appears in every sweep: run it once
    default = market_config()
    fig, axes = plt.subplots(2, 4, figsize=(20, 8.5), sharex="col")
    for column, (panel, (field, values, xlabel)) in enumerate(SWEEPS.items()):
        results = []
        for value in values:
            key = ("default", 0) if value == getattr(default, field) else (field, value)
            computed = key not in cache
            if computed:
                started = time.perf_counter()
                comparison = compare_mechanisms(market_config(**{field: value}), seed, eval_rounds, train_rounds)
                cache[key] = {"summaries": comparison.summaries, "alpha": comparison.optimal_alpha, "wall_s": time.perf_counter() - started}
            for name, summary in cache[key]["summaries"].items():
                files.append_row({"panel": panel, "field": field, "value": value, "mechanism": name, **summary, "optimal_alpha": cache[key]["alpha"],
                                  "computed_here": computed, "wall_s": cache[key]["wall_s"]}, "fig6_sweeps.csv")
            results.append(cache[key]["summaries"])
            advance()
        for name, (label, marker, line, colour) in STYLE.items():
            style = {"marker": marker, "ls": line, "color": colour, "label": label.format(alpha=default.msb_alpha), "lw": 2.2 if name == "dqmsb" else 1.4}
            axes[0, column].plot(values, [r[name]["total_surplus"] for r in results], **style)
            axes[1, column].plot(values, [100 * r[name]["efficiency"] for r in results], **style)
        axes[0, column].plot(values, [r["dqmsb"]["first_best_surplus"] for r in results], ":", color="gray", label="first-best")
        axes[0, column].set(title=f"({panel}) total surplus vs {xlabel}", ylabel="total surplus per round")
        axes[1, column].set(title=f"({panel}) share of first-best", xlabel=xlabel, ylabel="% of first-best surplus")
        for ax in axes[:, column]:
            ax.grid(alpha=0.3)
            ax.set_xticks(values)
    axes[0, 0].legend(fontsize=9)
    fig.suptitle(f"Fig. 6: {eval_rounds} held-out rounds per point, DQMSB trained on {train_rounds} rounds, seed {seed}")
    fig.tight_layout()
    fig.savefig(out / "fig6_surplus.png", dpi=120)
    plt.close(fig)


def main(
    quick: bool = typer.Option(False, "--quick", help="Short training (5,000 rounds for Fig. 5, 3,000 per Fig. 6 point), 500 held-out rounds: about 2 minutes of CPU."),
    seed: int = typer.Option(1, help="Run seed (spawns the training and evaluation round streams)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
) -> None:
    """Reproduce Figs. 5 and 6(a)-(d) of the cached-model paper: CSV + PNG under a run folder."""
    config = market_config()
    fig5_rounds = 5_000 if quick else 30_000
    fig6_rounds = 3_000 if quick else 15_000
    eval_rounds = 500 if quick else 2_000
    folder = RunFolder(out, run_name("market", "reproduce-auction", seed))
    folder.write_config({"seed": seed, "quick": quick, "fig5_train_rounds": fig5_rounds, "fig6_train_rounds": fig6_rounds, "eval_rounds": eval_rounds,
                         "sweeps": {panel: {"field": f, "values": v} for panel, (f, v, _) in SWEEPS.items()},
                         "market": config.model_dump(mode="json"), "dqmsb_dqn": DQMSB_DQN.model_dump(mode="json")})
    points = len({(f, v) if v != getattr(config, f) else "default" for f, values, _ in SWEEPS.values() for v in values})
    started = time.perf_counter()
    try:
        with progress_bar() as progress:
            task = progress.add_task("Fig. 5 convergence", total=fig5_rounds // config.rounds_per_episode + sum(len(v) for _, v, _ in SWEEPS.values()))
            advance = lambda: progress.advance(task)  # noqa: E731
            figure5(config, seed, fig5_rounds, eval_rounds, 10 if not quick else 5, folder, folder.path, advance)
            progress.update(task, description=f"Fig. 6 sweeps ({points} settings)")
            figure6(seed, fig6_rounds, eval_rounds, folder, folder.path, advance)
    finally:
        folder.close()
    folder.write_json("timing.json", {"wall_s": time.perf_counter() - started, "quick": quick})
    err_console.print(f"run folder: {folder.path} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    typer.run(main)
