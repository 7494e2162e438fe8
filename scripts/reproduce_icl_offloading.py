"""Redraw Fig. 4 of Zhou et al., "Generative AI as a Service in 6G Edge-Cloud: Generation
Task Offloading by In-context Learning" (papers/icl-task-offloading.txt).

(a) reward per task class over steps, ICL on every LLM backend at hand and DQN;
(b) success rate of quality-preferred tasks over steps; (c) prioritized vs latest
experience; (d) epsilon-greedy vs no exploration; (e) average service delay of the
paper's edge/cloud LLM pairs against the average output size ("prompt size"); (f) the
same against the share of quality-preferred tasks.

Runs (a)-(d) through the offloading bench (same seeded streams, rows written as they
come, resumable); (e)-(f) evaluate the per-request optimal decisions (the oracle) of each
LLM pair, since the figure studies the deployment's delay, not the learner. Every figure
is a PNG with the CSV of the numbers drawn, under one run folder.

    python scripts/reproduce_icl_offloading.py --quick
    python scripts/reproduce_icl_offloading.py --base-url http://127.0.0.1:8000/v1   # + an OpenAI-compatible server
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rich.progress import track  # noqa: E402

from edge_icl.experiment.bench import BenchSettings, moving_average, run_bench, save_settings  # noqa: E402
from edge_icl.benches.offloading import OffloadingRunners  # noqa: E402
from edge_icl.experiment.rollout import run_policy  # noqa: E402
from edge_icl.experiment.run_folder import RunFolder, run_name  # noqa: E402
from agent.settings import AgentSettings  # noqa: E402
from environment.inference import edge_cloud_pairs, llm_profile  # noqa: E402
from environment.offloading import (  # noqa: E402
    OffloadingEnv,
    OffloadingEnvConfig,
    OffloadingTask,
    load_offloading_env_config,
    offloading_env_config,
)
from solvers.reference import OraclePolicy  # noqa: E402

TASK_CLASSES = ("regular", "quality-preferred")


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def class_curve(rows: list[dict[str, Any]], steps: int, value: str, task_class: str | None, window: int) -> np.ndarray:
    """Moving average of `value` over the steps of `task_class` (all rows if None), carried forward."""
    curve = np.full(steps, np.nan)
    picked = [(int(r["step"]), float(r[value])) for r in rows if task_class is None or r["task_class"] == task_class]
    if not picked:
        return curve
    index, values = map(np.array, zip(*picked))
    curve[index] = moving_average(values, window)
    # carry the last value over steps of the other class so curves are drawn on every step
    for t in range(1, steps):
        if np.isnan(curve[t]):
            curve[t] = curve[t - 1]
    return curve


def mean_curve(groups: dict, policy: str, steps: int, value: str, task_class: str | None, window: int) -> np.ndarray:
    curves = [class_curve(rows, steps, value, task_class, window) for (name, _), rows in groups.items() if name == policy]
    return np.nanmean(np.vstack(curves), axis=0)


def plot_curves(path: Path, title: str, ylabel: str, curves: dict[str, np.ndarray]) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, curve in curves.items():
        ax.plot(np.arange(1, len(curve) + 1), curve, label=label)
    ax.set_xlabel("environment step (request)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    rows = [{"step": t + 1, **{label: float(c[t]) for label, c in curves.items()}} for t in range(len(next(iter(curves.values()))))]
    write_csv(path.with_suffix(".csv"), rows)


def learning_runs(root: Path, world: OffloadingEnvConfig, seeds: list[int], steps: int, backends: dict[str, AgentSettings]) -> dict[str, dict]:
    """One bench per backend (ICL variants, plus DQN in the first); returns each bench's groups."""
    results = {}
    for index, (label, agent) in enumerate(backends.items()):
        policies = ["icl", "icl-latest", "icl-no-explore"] + (["dqn"] if index == 0 else [])
        settings = BenchSettings(policies=policies, seeds=seeds, steps=steps, agent=agent.model_dump(mode="json"), config=world.model_dump(mode="json"))
        run_dir = root / f"bench-{label}"
        run_dir.mkdir(exist_ok=True)
        save_settings(run_dir, settings)
        print(f"[{label}] {len(policies)} policies x {len(seeds)} seeds x {steps} steps -> {run_dir}", file=sys.stderr)
        runners = OffloadingRunners(world, agent, run_dir / "transcript.jsonl").runners(policies)
        results[label] = run_bench(run_dir, settings, runners, on_group_start=lambda n, s: print(f"  {n} seed {s}", file=sys.stderr))
    return results


def oracle_delay(world: dict, edge: str, cloud: str, seeds: list[int], steps: int) -> float:
    config = offloading_env_config({**world, "offloading": {**world.get("offloading", {}), "edge_llm": edge, "cloud_llm": cloud}})
    return float(np.mean([run_policy(OraclePolicy(), OffloadingEnv(config), OffloadingTask(), steps, s).summary["mean_delay_s"] for s in seeds]))


def delay_sweeps(root: Path, world: OffloadingEnvConfig, seeds: list[int], steps: int) -> None:
    """Fig. 4(e) and 4(f): the oracle's average service delay for each edge/cloud pair."""
    base = world.model_dump(mode="json")
    pairs = edge_cloud_pairs()
    label = {pair: f"{llm_profile(pair[0]).display_name} + {llm_profile(pair[1]).display_name}" for pair in pairs}
    mean_sizes = [250, 500, 750, 1000, 1250, 1500, 2000]
    default_mean = np.mean([s["mean_tokens"] for s in base["tasks"]["services"]])
    rows_e = []
    for size in track(mean_sizes, description="Fig. 4(e) size sweep", transient=True):
        scale = size / default_mean
        services = [{**s, "mean_tokens": s["mean_tokens"] * scale} for s in base["tasks"]["services"]]
        sized = {**base, "tasks": {**base["tasks"], "services": services}}
        rows_e.append({"mean_output_tokens": size, **{label[p]: oracle_delay(sized, *p, seeds, steps) for p in pairs}})
    shares = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    rows_f = []
    for share in track(shares, description="Fig. 4(f) share sweep", transient=True):
        shared = {**base, "tasks": {**base["tasks"], "quality_preferred_share": share}}
        rows_f.append({"quality_preferred_share": share, **{label[p]: oracle_delay(shared, *p, seeds, steps) for p in pairs}})
    for rows, x_key, xlabel, name in (
        (rows_e, "mean_output_tokens", "average output size (tokens)", "fig4e_delay_vs_size"),
        (rows_f, "quality_preferred_share", "share of quality-preferred tasks", "fig4f_delay_vs_share"),
    ):
        fig, ax = plt.subplots(figsize=(6, 4))
        for pair in pairs:
            ax.plot([r[x_key] for r in rows], [r[label[pair]] for r in rows], marker="o", label=label[pair])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("average service delay (s)")
        ax.set_title(f"Fig. 4({name[4]}) edge + cloud LLM pairs, optimal offloading")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(root / f"{name}.png", dpi=120)
        plt.close(fig)
        write_csv(root / f"{name}.csv", rows)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 seeds x 120 steps (minutes on 2 cores)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3, quick 2)")
    parser.add_argument("--steps", type=int, default=None, help="steps per learning run (default 400, quick 120)")
    parser.add_argument("--base-url", default=None, help="also run ICL through the openai backend on this OpenAI-compatible server")
    parser.add_argument("--model", default="default", help="model name sent to --base-url")
    parser.add_argument("--config", type=Path, default=None, help="YAML scenario config")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="parent folder of the run folder")
    args = parser.parse_args(argv)
    seeds = list(range(args.seeds or (2 if args.quick else 3)))
    steps = args.steps or (120 if args.quick else 400)
    world = load_offloading_env_config(args.config)
    root = RunFolder(args.out, run_name("figures-icl-offloading", "all", 0)).path
    backends = {"llama-cpp": AgentSettings(backend="llama-cpp")}
    if args.base_url:
        backends["openai"] = AgentSettings(backend="openai", backend_options={"model": args.model, "base_url": args.base_url})
    results = learning_runs(root, world, seeds, steps, backends)
    window = max(10, steps // 10)
    first = next(iter(results.values()))
    curves_a, curves_b = {}, {}
    for label, groups in results.items():
        for task_class in TASK_CLASSES:
            curves_a[f"ICL ({label}), {task_class}"] = mean_curve(groups, "icl", steps, "reward", task_class, window)
        curves_b[f"ICL ({label})"] = mean_curve(groups, "icl", steps, "quality_met", "quality-preferred", window)
    for task_class in TASK_CLASSES:
        curves_a[f"DQN, {task_class}"] = mean_curve(first, "dqn", steps, "reward", task_class, window)
    curves_b["DQN"] = mean_curve(first, "dqn", steps, "quality_met", "quality-preferred", window)
    plot_curves(root / "fig4a_reward_per_class.png", "Fig. 4(a) reward per task class", "reward (moving average)", curves_a)
    plot_curves(root / "fig4b_quality_success.png", "Fig. 4(b) quality-preferred success rate", "success rate (moving average)", curves_b)
    plot_curves(
        root / "fig4c_prioritized_vs_latest.png",
        "Fig. 4(c) experience replay (llama-cpp)",
        "reward (moving average)",
        {"prioritized": mean_curve(first, "icl", steps, "reward", None, window), "latest": mean_curve(first, "icl-latest", steps, "reward", None, window)},
    )
    plot_curves(
        root / "fig4d_exploration.png",
        "Fig. 4(d) exploration (llama-cpp)",
        "reward (moving average)",
        {"epsilon-greedy": mean_curve(first, "icl", steps, "reward", None, window), "no exploration": mean_curve(first, "icl-no-explore", steps, "reward", None, window)},
    )
    delay_sweeps(root, world, seeds, steps=steps)
    print(root)
    return root


if __name__ == "__main__":
    main()
