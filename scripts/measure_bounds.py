"""What a run costs at the upper bounds of the config fields that scale memory or time.

Each case builds a config with one field (or a few) at its declared bound, every other
field at its default, and runs a cheap policy (no LLM) for a few steps in a fresh
process; it prints the peak memory of that process (RSS) and the time per step. The
bounds are read from the config models themselves, so the numbers follow them.

    python scripts/measure_bounds.py            # every case (about 6 minutes on 2 cores)
    python scripts/measure_bounds.py --only radio.n_users "dashf n_servers"
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bound(model: type[BaseModel], field: str, kind: type = annotated_types.Le) -> Any:
    """The `le` (or, with kind=annotated_types.Ge, the `ge`) a field of `model` declares."""
    for item in model.model_fields[field].metadata:
        if isinstance(item, kind):
            return item.le if kind is annotated_types.Le else item.ge
    raise LookupError(f"{model.__name__}.{field} declares no {kind.__name__}")


def cases() -> dict[str, dict[str, Any]]:
    """name -> {problem, overrides (dotted key -> value), policy, steps}, or a solver case."""
    from environment.adapter_training.config import AdapterTrainingConfig
    from environment.config import MAX_STEPS, RadioConfig
    from environment.market.config import MarketConfig
    from environment.offloading_v1.config import EdgeServerConfig, RequestStreamConfig

    users, rbs = bound(RadioConfig, "n_users"), bound(RadioConfig, "n_resource_blocks")
    edge_rate, warmup = bound(EdgeServerConfig, "arrival_rate_per_s"), bound(EdgeServerConfig, "warmup_s")
    cell_rate = bound(RequestStreamConfig, "arrival_rate_per_s", annotated_types.Ge)
    return {
        "steps": {"problem": "offloading", "overrides": {}, "policy": "oracle", "steps": MAX_STEPS},
        "radio.n_users": {"problem": "offloading", "overrides": {"radio.n_users": users}, "policy": "oracle", "steps": 20},
        "radio.n_resource_blocks": {"problem": "offloading", "overrides": {"radio.n_resource_blocks": rbs}, "policy": "oracle", "steps": 20},
        "radio both": {"problem": "offloading", "overrides": {"radio.n_users": users, "radio.n_resource_blocks": rbs}, "policy": "oracle", "steps": 5},
        "v1 edge.arrival_rate_per_s": {"problem": "offloading-v1", "overrides": {"edge.arrival_rate_per_s": edge_rate}, "policy": "greedy", "steps": 1000},
        "v1 edge.warmup_s": {"problem": "offloading-v1", "overrides": {"edge.warmup_s": warmup}, "policy": "greedy", "steps": 200},
        "v1 requests.arrival_rate_per_s (least)": {"problem": "offloading-v1", "overrides": {"requests.arrival_rate_per_s": cell_rate}, "policy": "greedy", "steps": 200},
        "v1 all three": {
            "problem": "offloading-v1",
            "overrides": {"edge.arrival_rate_per_s": edge_rate, "edge.warmup_s": warmup, "requests.arrival_rate_per_s": cell_rate},
            "policy": "greedy", "steps": 20,
        },
        "caching slots": {"problem": "caching", "overrides": {"slots": 10_000}, "policy": "least-aot", "steps": 200},
        "caching n_users": {"problem": "caching", "overrides": {"n_users": 10_000}, "policy": "least-aot", "steps": 50},
        "caching requests_per_user": {"problem": "caching", "overrides": {"requests_per_user": 100}, "policy": "least-aot", "steps": 50},
        "caching n_gpus": {"problem": "caching", "overrides": {"n_gpus": 1_000}, "policy": "least-aot", "steps": 50},
        "auction n_users x requests_per_user": {
            "problem": "auction", "overrides": {"n_users": bound(MarketConfig, "n_users"), "requests_per_user": bound(MarketConfig, "requests_per_user")},
            "policy": "msb", "steps": 200,
        },
        "auction n_ground_bs": {"problem": "auction", "overrides": {"n_ground_bs": bound(MarketConfig, "n_ground_bs")}, "policy": "msb", "steps": 200},
        "association online n_users": {"problem": "association", "overrides": {"instances.n_users": [1_900, 2_000]}, "policy": "least-delay", "steps": 2_000},
        "matching": {"solver": "matching"},
        "dashf n_users": {"solver": "dashf", "sizes": {"n_users": bound(AdapterTrainingConfig, "n_users")}},
        "dashf n_servers": {"solver": "dashf", "sizes": {"n_servers": bound(AdapterTrainingConfig, "n_servers")}},
    }


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this process: {seconds, per_step_s or what ran}."""
    started = time.perf_counter()
    if case.get("solver") == "matching":
        import numpy as np

        from environment.association.config import association_config
        from environment.association.problem import generate_instance
        from solvers.matching import gale_shapley, inference_aware_matching, kolkata_game, random_selection

        config = association_config({"n_nodes": [190, 200], "n_users": [1_900, 2_000]})  # NodeCount, UserCount at their bounds
        rng = np.random.default_rng(0)
        instance = generate_instance(config, rng)
        for solver in (inference_aware_matching, gale_shapley):
            solver(instance)
        for solver in (kolkata_game, random_selection):
            solver(instance, rng)
        return {"seconds": time.perf_counter() - started, "what": "IAM, Gale-Shapley, Kolkata, random on one instance of 190-200 nodes, 1,900-2,000 users"}
    if case.get("solver") == "dashf":
        import numpy as np

        from environment.adapter_training.config import adapter_training_config
        from environment.adapter_training.problem import generate_instance
        from solvers.adapter_baselines import run_method

        rng = np.random.default_rng(1)
        config = adapter_training_config(**case["sizes"])
        run_method("DASHF", generate_instance(config, rng), rng)
        return {"seconds": time.perf_counter() - started, "what": f"DASHF on {config.n_users} users, {config.n_servers} servers"}
    from edge_icl.problems.registry import PROBLEMS
    from edge_icl.experiment.rollout import run_policy

    problem = PROBLEMS[case["problem"]]
    data: dict[str, Any] = {}
    for key, value in case["overrides"].items():
        set_dotted(data, key, value)
    world = problem.config(data)
    built = time.perf_counter()
    run_policy(problem.policies[case["policy"]](0, world), problem.env(world), problem.task(world), case["steps"], 0)
    return {"seconds": time.perf_counter() - started, "per_step_s": (time.perf_counter() - built) / case["steps"], "steps": case["steps"], "policy": case["policy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="names of the cases to run (default: all)")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # the child process: run this one case
    args = parser.parse_args()
    if args.case is not None:
        result = run_case(cases()[args.case])
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    for name in cases():
        if args.only and name not in args.only:
            continue
        done = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            print(f"{name}: failed ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode})", flush=True)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        detail = f"{result['per_step_s'] * 1e3:.2f} ms/step over {result['steps']:,} steps of {result['policy']}" if "per_step_s" in result else result["what"]
        print(f"{name}: peak {result['peak_rss_mb']:,.0f} MB, {result['seconds']:.1f} s ({detail})", flush=True)


if __name__ == "__main__":
    main()
