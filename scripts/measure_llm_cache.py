"""Measure the persistent LLM call cache and the sweep executors, side by side on this machine.

Runs, one after the other, each as the user would (`edge-icl ...` in its own process,
wall time measured around the whole command, start-up included):

1. the quick offloading bench (`edge-icl bench offloading --quick --seeds 3`) with the
   LLM call cache off, then with it on and cold (an empty cache): the cold run can only
   gain from calls that repeat within the run;
2. a sweep spec (default examples/sweep-prompts.yaml: 2 prompt folders x 3 seeds x
   icl + oracle) serially with the cache cold, then again warm; then on a local Ray with
   a new cold cache, then again warm.

Each run gets its own cache folder (EDGE_ICL_CACHE) under the output folder, with the
model files of the real cache folder linked in (so no run converts the model again).
Targets (issue 16): a warm sweep rerun makes no LLM call and takes < 10% of its cold
time; the cold quick bench takes < 0.5x the cache-off time.

    python scripts/measure_llm_cache.py --out runs/measure-llm-cache
    python scripts/measure_llm_cache.py --no-bench                   # the sweeps only
    python scripts/measure_llm_cache.py --no-sweeps                  # the quick bench only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_icl.experiment.run_folder import dumps, read_jsonl  # noqa: E402
from agent.llm_cache import cache_dir  # noqa: E402


def fresh_cache(folder: Path) -> Path:
    """An empty cache folder holding links to the model files of the real cache folder."""
    folder.mkdir(parents=True)
    for model in cache_dir().glob("*.gguf"):
        (folder / model.name).symlink_to(model.resolve())
    return folder


def edge_icl(args: list[str], cache: Path) -> tuple[float, dict[str, Any]]:
    """Run `edge-icl ARGS --json` with EDGE_ICL_CACHE=cache; its wall time and its JSON output."""
    env = {**os.environ, "EDGE_ICL_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "edge_icl", *args, "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"edge-icl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return wall, json.loads(done.stdout)


def bench_calls(run_dir: Path) -> dict[str, Any]:
    """LLM calls of a bench from its transcript: decision calls and calibration calls, and how many were cache hits."""
    records = [r for r in read_jsonl(run_dir / "transcript.jsonl") if r.get("llm_call")]
    calibrations = [r for r in records if (r.get("calibration_latency_s") or 0) > 0]  # a calibration call ran (hit or not)
    calls = len(records) + len(calibrations)
    hits = sum(r.get("cache") == "hit" for r in records) + sum(r.get("calibration_cache") == "hit" for r in calibrations)
    return {
        "backend_calls": calls,
        "llm_calls": calls - hits,
        "cache_hits": hits,
        "hit_rate": hits / calls if calls else None,
        "saved_latency_s": sum(r.get("saved_latency_s") or 0 for r in records) + sum(r.get("calibration_saved_latency_s") or 0 for r in calibrations),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / f"measure-llm-cache-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--spec", type=Path, default=ROOT / "examples" / "sweep-prompts.yaml")
    parser.add_argument("--bench", action=argparse.BooleanOptionalAction, default=True, help="Measure the quick offloading bench.")
    parser.add_argument("--bench-seeds", type=int, default=3)
    parser.add_argument("--sweeps", action=argparse.BooleanOptionalAction, default=True, help="Measure the sweep, serial and on Ray.")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=False)
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()}}

    def save() -> None:
        (out / "results.json").write_text(dumps(results, indent=2) + "\n")

    if args.bench:
        bench = ["bench", "offloading", "--quick", "--seeds", str(args.bench_seeds)]
        for name, mode in (("bench_cache_off", "off"), ("bench_cache_cold", "on")):
            wall, summary = edge_icl([*bench, "--llm-cache", mode, "--out", str(out / name)], fresh_cache(out / f"cache-{name}"))
            (run_dir,) = (out / name).iterdir()
            results[name] = {"wall_s": wall, **bench_calls(run_dir), "icl_mean_reward_last_half": summary["policies"]["icl"]["mean_reward_last_half"]}
            save()
        results["bench_cold_over_off"] = results["bench_cache_cold"]["wall_s"] / results["bench_cache_off"]["wall_s"]
    for executor in ("serial", "ray") if args.sweeps else ():
        cache = fresh_cache(out / f"cache-sweep-{executor}")
        for state in ("cold", "warm"):
            name = f"sweep_{executor}_{state}"
            wall, summary = edge_icl(["sweep", str(args.spec), "--executor", executor, "--out", str(out / name)], cache)
            keep = ("cells", "failed", "llm_calls", "cache_hits", "hit_rate", "wall_s")
            results[name] = {"command_wall_s": wall, **{k: summary[k] for k in keep}, **({"ray": summary["ray"]} if "ray" in summary else {})}
            save()
        results[f"sweep_{executor}_warm_over_cold"] = results[f"sweep_{executor}_warm"]["command_wall_s"] / results[f"sweep_{executor}_cold"]["command_wall_s"]
    if args.sweeps:
        results["sweep_ray_cold_over_serial_cold"] = results["sweep_ray_cold"]["command_wall_s"] / results["sweep_serial_cold"]["command_wall_s"]
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    save()
    print(dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
