"""The summary figures of a sweep, drawn from its cells table (each PNG beside the CSV it draws).

- `by_policy_<metric>.png/.csv`: the metric's mean over seeds per policy and variant (one
  panel per world of the grid), the spread as the standard deviation over seeds (error
  bar) and every seed as a dot.
- `paired_<a>_vs_<b>_<metric>.png/.csv`: variant b minus variant a of each agent policy on
  the same streams (same world, same seed): every seed's difference, their mean and its
  95% confidence interval over seeds (Student's t with n - 1 degrees of freedom; none
  with a single seed).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

SEED_DOT = dict(color="black", s=12, zorder=3)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _label(row: dict[str, Any]) -> str:
    return f"{row['policy']} / {row['variant']}" if row.get("variant") else str(row["policy"])


def _world_title(rows: Sequence[dict[str, Any]], world: str, keys: Sequence[str]) -> str:
    first = next(r for r in rows if r["world"] == world)
    return ", ".join(f"{k}={first[k]}" for k in keys) or "default world"


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)


def metric_by_policy(rows: Sequence[dict[str, Any]], metric: str, grid_keys: Sequence[str]) -> list[dict[str, Any]]:
    """Per world and policy/variant: seeds, mean, standard deviation (ddof 1), min, max of `metric` (finished cells only)."""
    groups: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        value = _number(row.get(metric))
        if row.get("status") == "ok" and value is not None:
            groups.setdefault((row["world"], _label(row)), []).append((int(row["seed"]), value))
    table = []
    for (world, label), seeds in groups.items():
        values = np.array([v for _, v in sorted(seeds)])
        table.append(
            {
                "world": world,
                "world_settings": _world_title(rows, world, grid_keys),
                "label": label,
                "seeds": len(values),
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
                "values": ";".join(f"{s}:{v:.6g}" for s, v in sorted(seeds)),
            }
        )
    return table


def paired_difference(rows: Sequence[dict[str, Any]], metric: str, a: str, b: str, grid_keys: Sequence[str]) -> list[dict[str, Any]]:
    """Per agent policy and world: `metric` of variant b minus variant a on the same seeds, mean and 95% t-interval."""
    values: dict[tuple[str, str, str, int], float] = {}
    for row in rows:
        value = _number(row.get(metric))
        if row.get("status") == "ok" and value is not None and row.get("variant") in (a, b):
            values[(row["policy"], row["world"], row["variant"], int(row["seed"]))] = value
    pairs: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for (policy, world, variant, seed), value in values.items():
        if variant == a and (policy, world, b, seed) in values:
            pairs.setdefault((policy, world), []).append((seed, value, values[(policy, world, b, seed)]))
    table = []
    for (policy, world), seeds in sorted(pairs.items()):
        seeds.sort()
        diffs = np.array([vb - va for _, va, vb in seeds])
        n = len(diffs)
        half = float(stats.t.ppf(0.975, n - 1) * diffs.std(ddof=1) / math.sqrt(n)) if n > 1 else None
        mean = float(diffs.mean())
        table.append(
            {
                "policy": policy,
                "world": world,
                "world_settings": _world_title(rows, world, grid_keys),
                "variant_a": a,
                "variant_b": b,
                "seeds": n,
                "mean_a": float(np.mean([va for _, va, _ in seeds])),
                "mean_b": float(np.mean([vb for _, _, vb in seeds])),
                "mean_diff": mean,
                "ci95_low": None if half is None else mean - half,
                "ci95_high": None if half is None else mean + half,
                "diffs": ";".join(f"{s}:{vb - va:.6g}" for s, va, vb in seeds),
            }
        )
    return table


def draw_by_policy(path: Path, table: list[dict[str, Any]], metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worlds = list(dict.fromkeys(r["world"] for r in table))
    columns = min(3, len(worlds))
    rows_n = math.ceil(len(worlds) / columns)
    labels = list(dict.fromkeys(r["label"] for r in table))
    fig, axes = plt.subplots(rows_n, columns, figsize=(max(4.5, 0.9 * len(labels) + 2) * columns, 3.8 * rows_n), squeeze=False)
    for ax, world in zip(axes.flat, worlds):
        entries = [r for r in table if r["world"] == world]
        x = np.arange(len(entries))
        ax.bar(x, [r["mean"] for r in entries], yerr=[r["std"] for r in entries], capsize=4, color="tab:blue", alpha=0.6)
        for i, entry in enumerate(entries):
            dots = [float(v.split(":")[1]) for v in entry["values"].split(";")]
            ax.scatter(np.full(len(dots), i), dots, **SEED_DOT)
        ax.set_xticks(x, [r["label"] for r in entries], rotation=30, ha="right")
        ax.set_title(entries[0]["world_settings"], fontsize=9)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(worlds) :]:
        ax.axis("off")
    fig.suptitle(f"{metric}: mean over seeds (bar), std (error bar), each seed (dot)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_paired(path: Path, table: list[dict[str, Any]], metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.6 * len(table)))
    for i, entry in enumerate(table):
        diffs = [float(v.split(":")[1]) for v in entry["diffs"].split(";")]
        ax.scatter(diffs, np.full(len(diffs), i), **SEED_DOT)
        if entry["ci95_low"] is not None:
            ax.errorbar(entry["mean_diff"], i, xerr=[[entry["mean_diff"] - entry["ci95_low"]], [entry["ci95_high"] - entry["mean_diff"]]],
                        fmt="D", color="tab:red", capsize=5, zorder=4)
        else:
            ax.scatter([entry["mean_diff"]], [i], marker="D", color="tab:red", zorder=4)
    ax.axvline(0.0, color="grey", lw=1)
    ax.set_yticks(range(len(table)), [f"{e['policy']} ({e['world_settings']}, {e['seeds']} seeds)" for e in table])
    ax.set_ylim(-0.7, len(table) - 0.3)
    first = table[0]
    ax.set_xlabel(f"{metric}: {first['variant_b']} - {first['variant_a']} (same streams)")
    ax.set_title("paired difference per seed (dots), mean and 95% t-interval (red)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_figures(folder: Path, rows: Sequence[dict[str, Any]], metric: str, compared: tuple[str, str] | None, grid_keys: Sequence[str]) -> tuple[list[str], str | None]:
    """Write the figures (PNG + CSV) into `folder`; return their file names and a note on what could not be drawn."""
    written: list[str] = []
    if not any(_number(r.get(metric)) is not None for r in rows if r.get("status") == "ok"):
        return written, f"no figures: no finished cell has the metric {metric!r}"
    safe = metric.replace("/", "_")
    table = metric_by_policy(rows, metric, grid_keys)
    _write(folder / f"by_policy_{safe}.csv", table)
    draw_by_policy(folder / f"by_policy_{safe}.png", table, metric)
    written += [f"by_policy_{safe}.csv", f"by_policy_{safe}.png"]
    if compared is None:
        return written, "no paired figure: the sweep has a single variant"
    paired = paired_difference(rows, metric, *compared, grid_keys)
    if not paired:
        return written, f"no paired figure: no seed finished under both {compared[0]} and {compared[1]}"
    name = f"paired_{compared[0]}_vs_{compared[1]}_{safe}"
    _write(folder / f"{name}.csv", paired)
    draw_paired(folder / f"{name}.png", paired, metric)
    return [*written, f"{name}.csv", f"{name}.png"], None
