"""Figures and tables of Offloading-v1 (docs/results-offloading-v1.md).

Runs the non-LLM policies of the v1 offloading bench (oracle, random, all-local,
all-offload, the queue-reading greedy rule, the ICL agent's no-LLM baselines lookup and
bandit, DQN) on the same seeded streams, or reads a
finished `edge-icl bench offloading --world v1` folder (`--from-bench DIR`, e.g. one with
the ICL rows), then draws:

- reward over time (moving average per policy, mean over seeds);
- the decision against the edge queue (requests running + waiting) and against the cloud
  latency the dispatcher saw, per policy (share of requests offloaded per bin);
- a load sweep: reward, the oracle's offload share and the best (service, token level)
  lookup's accuracy against the edge site's arrival rate (the load knob).

Also writes the bench table, the world facts (best coarse lookup accuracy, the oracle's
offload share per service) and how many oracle decisions the prompt's upload tips.
Every figure is a PNG with the CSV of the numbers drawn, under one run folder.

    python scripts/reproduce_offloading_v1.py            # 3 seeds x 500 steps
    python scripts/reproduce_offloading_v1.py --quick    # 2 seeds x 200 steps
    python scripts/reproduce_offloading_v1.py --from-bench runs/bench-offloading-v1__all__0__...
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from edge_icl.cli.app import chosen_names  # noqa: E402
from edge_icl.experiment.bench import BenchCSV, BenchSettings, aggregate, load_settings, moving_average, run_bench, save_settings  # noqa: E402
from edge_icl.benches.offloading import OffloadingRunners, offloading_v1_metrics, with_edge_load, world_facts  # noqa: E402
from edge_icl.problems.registry import PROBLEMS  # noqa: E402
from edge_icl.experiment.run_folder import RunFolder, run_name  # noqa: E402
from agent.settings import AgentSettings  # noqa: E402
from environment.config import ConfigError  # noqa: E402
from environment.offloading_v1 import OffloadingV1Config, best_lookup_accuracy, load_offloading_v1_config  # noqa: E402

PROBLEM = PROBLEMS["offloading-v1"]
NON_LLM_POLICIES = (*PROBLEM.policies, "dqn")
SWEEP_POLICIES = ("oracle", "greedy", "all-local", "all-offload")
QUEUE_BINS = [(0, 2), (3, 4), (5, 6), (7, 7), (8, 8), (9, 10), (11, 14), (15, 10_000)]
LATENCY_EDGES = [0.0, 1.5, 3.0, 6.0, 10.0, 16.0, 1e9]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def bench(root: Path, world: OffloadingV1Config, policies: list[str], seeds: list[int], steps: int, label: str) -> dict:
    """Run (or resume) one v1 bench under root/label; return its groups."""
    run_dir = root / label
    run_dir.mkdir(exist_ok=True)
    settings = BenchSettings(policies=policies, seeds=seeds, steps=steps, config=world.model_dump(mode="json"), problem=PROBLEM.name)
    save_settings(run_dir, settings)
    print(f"[{label}] {len(policies)} policies x {len(seeds)} seeds x {steps} steps", file=sys.stderr)
    runners = OffloadingRunners(world, AgentSettings(), run_dir / "transcript.jsonl", PROBLEM).runners(policies)
    return run_bench(run_dir, settings, runners)


def rows_of(groups: dict, policy: str) -> list[dict[str, Any]]:
    return [row for (name, _), rows in sorted(groups.items()) if name == policy for row in rows]


def reward_over_time(root: Path, groups: dict, policies: list[str], steps: int) -> None:
    window = max(10, steps // 10)
    curves = {}
    for policy in policies:
        per_seed = [moving_average(np.array([float(r["reward"]) for r in rows]), window) for (name, _), rows in sorted(groups.items()) if name == policy]
        curves[policy] = np.mean(np.vstack(per_seed), axis=0)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for policy, curve in curves.items():
        ax.plot(np.arange(1, steps + 1), curve, label=policy, lw=2.2 if policy == "oracle" else 1.3)
    ax.set_xlabel("request (environment step)")
    ax.set_ylabel(f"reward, moving average over {window}")
    ax.set_title("Offloading-v1: reward over time (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(root / "fig_reward_over_time.png", dpi=120)
    plt.close(fig)
    write_csv(root / "fig_reward_over_time.csv", [{"step": t + 1, **{p: round(float(c[t]), 4) for p, c in curves.items()}} for t in range(steps)])


def share_by_bin(rows: list[dict[str, Any]], value, bins: list[tuple[float, float]]) -> tuple[list[float], list[int]]:
    shares, counts = [], []
    for low, high in bins:
        picked = [int(r["action"]) for r in rows if low <= value(r) <= high]
        shares.append(float(np.mean(picked)) if picked else float("nan"))
        counts.append(len(picked))
    return shares, counts


def decision_plots(root: Path, groups: dict, policies: list[str]) -> None:
    queue = lambda r: int(r["edge_running"]) + int(r["edge_waiting"])  # noqa: E731
    latency = lambda r: float(r["recent_cloud_latency_s"])  # noqa: E731
    latency_bins = [(LATENCY_EDGES[i], LATENCY_EDGES[i + 1] - 1e-9) for i in range(len(LATENCY_EDGES) - 1)]
    specs = [
        ("fig_decision_vs_queue", queue, QUEUE_BINS, [f"{a}-{b}" if b < 10_000 else f"{a}+" for a, b in QUEUE_BINS],
         "requests at the edge (decoding + waiting)"),
        ("fig_decision_vs_cloud_latency", latency, latency_bins,
         [f"{a:g}-{b + 1e-9:g}" if b < 1e8 else f"{a:g}+" for a, b in latency_bins], "cloud latency seen at the last request (s)"),
    ]
    for name, value, bins, labels, xlabel in specs:
        table = []
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for policy in policies:
            shares, counts = share_by_bin(rows_of(groups, policy), value, bins)
            ax.plot(range(len(bins)), shares, marker="o", label=policy, lw=2.2 if policy == "oracle" else 1.3)
            table.append({"policy": policy, **{f"share {label}": round(s, 4) for label, s in zip(labels, shares)},
                          **{f"n {label}": c for label, c in zip(labels, counts)}})
        ax.set_xticks(range(len(bins)), labels)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("share of requests offloaded")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title("Offloading-v1: decision vs " + ("edge queue" if "queue" in name else "cloud latency"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        fig.savefig(root / f"{name}.png", dpi=120)
        plt.close(fig)
        write_csv(root / f"{name}.csv", table)


def upload_tipped_share(rows: list[dict[str, Any]]) -> float:
    """Share of oracle decisions that the prompt's upload changes.

    Without the upload, a kept request waits only for its slot (waiting = slot wait) and
    an offloaded one saves the whole upload; the rewards move by those amounts.
    """
    tipped = 0
    for r in rows:
        local, offload = float(r["local_reward"]), float(r["offload_reward"])
        upload, slot = float(r["upload_s"]), float(r["edge_slot_wait_s"])
        without_local = local + (max(slot, upload) - slot)
        without_offload = offload + upload
        tipped += int(local < offload) != int(without_local < without_offload)
    return tipped / len(rows)


def versus(groups: dict, policy: str, rival: str) -> dict[str, Any]:
    """Where `policy` and `rival` decide differently on the same requests, and who was right.

    Also the accuracy of each per quality level (the first keyword): whether the edge
    model's quality meets the request or not.
    """
    pairs = [(a, b) for seed in sorted({s for _, s in groups}) if (policy, seed) in groups and (rival, seed) in groups
             for a, b in zip(groups[(policy, seed)], groups[(rival, seed)])]
    differ = [(a, b) for a, b in pairs if a["action"] != b["action"]]
    out: dict[str, Any] = {
        "steps": len(pairs),
        "same_decision_share": 1 - len(differ) / len(pairs),
        f"{policy}_right_where_they_differ": sum(a["action"] == a["oracle_action"] for a, _ in differ) / len(differ) if differ else None,
        "reward_difference_where_they_differ": float(np.mean([float(a["reward"]) - float(b["reward"]) for a, b in differ])) if differ else None,
    }
    for level in sorted({a["quality_keyword"] for a, _ in pairs}):
        for name, index in ((policy, 0), (rival, 1)):
            picked = [pair[index] for pair in pairs if pair[0]["quality_keyword"] == level]
            out[f"{name}_accuracy_{level.replace(' ', '_')}"] = float(np.mean([r["action"] == r["oracle_action"] for r in picked]))
    return out


def closest_example_facts(transcript: Path, groups: dict) -> dict[str, dict[str, float]]:
    """Per ICL policy, over its LLM calls that showed a closest pool example (the line before
    the query): how often the LLM took that example's decision, and how often the LLM's
    decision and the example's decision agreed with the oracle's on the same requests.

    The example's decision is what a lookup on the same pool would have decided at those
    steps (not the `lookup` policy's own run: its pool would have grown differently).
    """
    calls: dict[str, list[tuple[str, str, str]]] = {}
    for line in transcript.read_text().splitlines():
        record = json.loads(line)
        closest = re.findall(r"\), Decision: (\w+), Evaluation:", record.get("prompt_variable") or "")
        if record.get("llm_call") and closest and (record["policy"], record["seed"]) in groups:
            oracle = groups[(record["policy"], record["seed"])][record["step"]]["oracle_action"]
            calls.setdefault(record["policy"], []).append((record["decision"], closest[-1], "local" if str(oracle) == "0" else "offload"))
    return {
        policy: {
            "calls": len(rows),
            "took_closest_share": float(np.mean([llm == closest for llm, closest, _ in rows])),
            "llm_accuracy": float(np.mean([llm == oracle for llm, _, oracle in rows])),
            "closest_example_accuracy": float(np.mean([closest == oracle for _, closest, oracle in rows])),
        }
        for policy, rows in calls.items()
    }


def llm_call_costs(transcript: Path) -> dict[str, dict[str, float]]:
    """Per ICL policy: LLM calls, explored steps, median tokens evaluated and median latency
    (with the calibration call, when one was made) per call."""
    records: dict[str, list[dict[str, Any]]] = {}
    for line in transcript.read_text().splitlines():
        record = json.loads(line)
        records.setdefault(record["policy"], []).append(record)
    out = {}
    for policy, rows in records.items():
        calls = [r for r in rows if r.get("llm_call")]
        out[policy] = {
            "llm_calls": len(calls),
            "explored_steps": sum(bool(r.get("explored")) for r in rows),
            "median_evaluated_tokens": float(np.median([r["evaluated_tokens"] for r in calls])) if calls else None,
            "median_latency_ms": float(np.median([1000 * (r["latency_s"] + (r.get("calibration_latency_s") or 0.0)) for r in calls])) if calls else None,
        }
    return out


def load_sweep(root: Path, base: dict, loads: list[float], seeds: list[int], steps: int) -> list[dict[str, Any]]:
    table = []
    for load in loads:
        world = PROBLEM.config(with_edge_load(base, load))
        groups = bench(root, world, list(SWEEP_POLICIES), seeds, steps, f"load-{load:g}")
        metrics = aggregate(groups, SWEEP_POLICIES, offloading_v1_metrics)
        oracle = rows_of(groups, "oracle")
        table.append({
            "edge_arrival_rate_per_s": load,
            **{f"reward {p}": round(float(np.mean([float(r["reward"]) for r in rows_of(groups, p)])), 4) for p in SWEEP_POLICIES},
            "greedy accuracy": round(metrics["greedy"]["decision_accuracy"], 4),
            "oracle offload share": round(float(np.mean([int(r["action"]) for r in oracle])), 4),
            "best coarse lookup accuracy": round(best_lookup_accuracy(oracle), 4),
            "mean estimated edge wait (s)": round(float(np.mean([float(r["estimated_edge_wait_s"]) for r in oracle])), 3),
        })
    write_csv(root / "fig_load_sweep.csv", table)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    x = [row["edge_arrival_rate_per_s"] for row in table]
    for p in SWEEP_POLICIES:
        left.plot(x, [row[f"reward {p}"] for row in table], marker="o", label=p)
    left.set_xlabel("edge site arrival rate (requests/s)")
    left.set_ylabel("mean reward")
    left.set_title("reward vs load")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    right.plot(x, [row["oracle offload share"] for row in table], marker="o", label="oracle offload share")
    right.plot(x, [row["best coarse lookup accuracy"] for row in table], marker="s", label="best (service, level) lookup accuracy")
    right.plot(x, [row["greedy accuracy"] for row in table], marker="^", label="greedy accuracy")
    right.axhline(0.8, color="grey", ls="--", lw=1)
    right.set_ylim(0, 1.02)
    right.set_xlabel("edge site arrival rate (requests/s)")
    right.set_title("decisions vs load")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(root / "fig_load_sweep.png", dpi=120)
    plt.close(fig)
    return table


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 seeds x 200 steps")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3, quick 2)")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default 500, quick 200)")
    parser.add_argument("--loads", default="0.1,0.15,0.2,0.23", help="edge arrival rates of the load sweep (requests/s)")
    parser.add_argument("--config", type=Path, default=None, help="YAML Offloading-v1 config")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="parent folder of the run folder")
    parser.add_argument("--from-bench", type=Path, default=None, help="draw from this finished v1 bench folder instead of running the non-LLM policies")
    parser.add_argument("--no-sweep", action="store_true", help="skip the load sweep")
    parser.add_argument("--policies", default=None, help="comma-separated policies to run (or, with --from-bench, to draw); default: all")
    args = parser.parse_args(argv)
    try:
        if args.from_bench is not None:
            settings = load_settings(args.from_bench)
            if settings.problem != PROBLEM.name:
                parser.error(f"--from-bench: {args.from_bench} is a bench of {settings.problem}, not {PROBLEM.name}")
            world, seeds, steps, policies = PROBLEM.config(settings.config), settings.seeds, settings.steps, list(settings.policies)
            groups = {key: rows for key, rows in BenchCSV(args.from_bench / "steps.csv").load().items() if len(rows) == steps}
            policies = [p for p in policies if any(name == p for name, _ in groups)]
            if args.policies is not None:
                policies = chosen_names(args.policies, policies, "--policies (with --from-bench: of the bench)")
        else:
            seeds = list(range(args.seeds or (2 if args.quick else 3)))
            steps = args.steps or (200 if args.quick else 500)
            world = load_offloading_v1_config(args.config)
            policies = list(NON_LLM_POLICIES) if args.policies is None else chosen_names(args.policies, NON_LLM_POLICIES, "--policies (without --from-bench)")
    except ConfigError as error:
        parser.error(str(error))
    root = RunFolder(args.out, run_name("figures-offloading-v1", "all", 0)).path
    if args.from_bench is None:
        groups = bench(root, world, policies, seeds, steps, "bench")
    table = aggregate(groups, policies, offloading_v1_metrics)
    write_csv(root / "bench_table.csv", [{"policy": p, **{k: (None if v is None else round(v, 4)) for k, v in m.items()}} for p, m in table.items()])
    facts = world_facts(groups)
    oracle = rows_of(groups, "oracle")
    if oracle:
        facts["upload_tipped_share"] = upload_tipped_share(oracle)
    (root / "world_facts.json").write_text(json.dumps(facts, indent=2) + "\n")
    if "icl" in policies and "greedy" in policies:
        icl_facts = {"icl_vs_greedy": versus(groups, "icl", "greedy")}
        if args.from_bench is not None and (args.from_bench / "transcript.jsonl").exists():
            icl_facts["closest_example"] = closest_example_facts(args.from_bench / "transcript.jsonl", groups)
            icl_facts["llm_calls"] = llm_call_costs(args.from_bench / "transcript.jsonl")
        (root / "icl_facts.json").write_text(json.dumps(icl_facts, indent=2) + "\n")
        facts["icl"] = icl_facts
    reward_over_time(root, groups, policies, steps)
    decision_plots(root, groups, policies)
    sweep = [] if args.no_sweep else load_sweep(root, world.model_dump(mode="json"), [float(x) for x in args.loads.split(",")], seeds, steps)
    print(json.dumps({"bench": table, "world_facts": facts, "load_sweep": sweep}, indent=2))
    print(root, file=sys.stderr)
    return root


if __name__ == "__main__":
    main()
