"""Same numbers before and after a change: every bench's non-LLM results, and the ICL agent's decisions.

    python scripts/same_numbers.py record FILE   # on the code before the change
    python scripts/same_numbers.py check FILE    # on the code after it, same machine

`record` runs every bench at small sizes with the policies that make no LLM call
(`--json`) and one ICL run with `--llm-cache off`, and writes each number (keyed
bench/policy/metric) and each ICL decision to FILE. `check` runs the same and
exits 1 naming every number that differs by more than 1e-9 relative, or any decision
that differs. Wall-clock fields are left out. DQN and llama.cpp give other digits on
other CPUs, so compare on the machine that recorded (issue 23, item 5).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

REL_TOL = 1e-9
CLOCK_FIELDS = {"wall_s", "wall_seconds", "seconds", "elapsed_s"}  # measured time, not a result

# bench name -> the flags of a small run whose policies make no LLM call
BENCHES: dict[str, list[str]] = {
    "offloading": ["offloading", "--steps", "30", "--seeds", "2", "--policies", "oracle,random,all-local,all-offload,lookup,bandit,dqn"],
    "offloading-v1": ["offloading", "--world", "v1", "--steps", "30", "--seeds", "2", "--policies", "oracle,random,all-local,all-offload,greedy,lookup,bandit"],
    "association": ["association", "--runs", "3", "--seeds", "2", "--gap-runs", "2", "--policies", "lookup,bandit,least-delay,dqn,iam,kolkata,gale-shapley,random,milp"],
    "caching": ["caching", "--slots", "30", "--small-runs", "2", "--policies", "least-aot,fifo,lfu,lru,belady,lookup,bandit"],
    "auction": ["auction", "--rounds", "20", "--train-rounds", "100", "--mechanisms", "msb,spa,myopic-msb,optimal-msb,dqmsb,lookup,bandit"],
    "matching": ["matching", "--runs", "3", "--gap-runs", "2"],
    "dashf": ["dashf"],
}
ICL_RUN = ["run", "--steps", "12", "--seed", "3", "--llm-cache", "off"]


def numbers(tree: object, prefix: str = "") -> dict[str, float]:
    """Every number of a JSON tree, keyed by its path; the policies' top-level key (of any name) is left out."""
    found: dict[str, float] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in CLOCK_FIELDS:
                continue
            found.update(numbers(value, f"{prefix}/{key}" if prefix else str(key)))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found.update(numbers(value, f"{prefix}/{index}"))
    elif isinstance(tree, bool) or tree is None:
        found[prefix] = tree  # type: ignore[assignment]
    elif isinstance(tree, (int, float)):
        found[prefix] = float(tree)
    return found


def policy_numbers(result: dict) -> dict[str, float]:
    """The per-policy numbers of a bench's --json, whatever its top-level key was called."""
    for key in ("policies", "mechanisms", "solvers", "methods"):
        if key in result:
            return numbers(result[key])
    raise SystemExit(f"no policy table in {sorted(result)}")


def edge_icl(args: list[str], out: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "edge_icl", *args, "--out", str(out), "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"edge-icl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return done.stdout


def icl_decisions(out: Path) -> list[str]:
    """The decisions of the ICL run, read from its step table."""
    import csv

    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    with (folder / "steps.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    column = next(c for c in ("decision", "action", "choice") if c in rows[0])
    return [row[column] for row in rows]


def measure() -> dict:
    recorded: dict = {"benches": {}, "icl_decisions": []}
    with tempfile.TemporaryDirectory() as scratch:
        for name, args in BENCHES.items():
            print(f"{name} ...", file=sys.stderr, flush=True)
            recorded["benches"][name] = policy_numbers(json.loads(edge_icl(["bench", *args], Path(scratch) / name)))
        print("icl run ...", file=sys.stderr, flush=True)
        edge_icl(ICL_RUN, Path(scratch) / "icl")
        recorded["icl_decisions"] = icl_decisions(Path(scratch) / "icl")
    return recorded


def differences(before: dict, after: dict) -> list[str]:
    found = []
    for bench, old in before["benches"].items():
        new = after["benches"].get(bench, {})
        for key, value in old.items():
            if key not in new:
                found.append(f"{bench}: {key} is gone")
            elif isinstance(value, float) and isinstance(new[key], float):
                if not math.isclose(value, new[key], rel_tol=REL_TOL, abs_tol=0.0) and not (math.isnan(value) and math.isnan(new[key])):
                    found.append(f"{bench}: {key} {value!r} -> {new[key]!r}")
            elif value != new[key]:
                found.append(f"{bench}: {key} {value!r} -> {new[key]!r}")
    if before["icl_decisions"] != after["icl_decisions"]:
        found.append(f"icl decisions differ: {before['icl_decisions']} -> {after['icl_decisions']}")
    return found


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ("record", "check"):
        raise SystemExit("usage: python scripts/same_numbers.py record|check FILE")
    path = Path(sys.argv[2])
    result = measure()
    if sys.argv[1] == "record":
        path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print(f"{sum(len(v) for v in result['benches'].values())} numbers and {len(result['icl_decisions'])} ICL decisions written to {path}")
        return
    found = differences(json.loads(path.read_text()), result)
    compared = sum(len(v) for v in json.loads(path.read_text())["benches"].values())
    if found:
        print("\n".join(found))
        raise SystemExit(f"{len(found)} of {compared} numbers or decision lists differ")
    print(f"same: {compared} numbers to {REL_TOL:g} relative and {len(result['icl_decisions'])} ICL decisions")


if __name__ == "__main__":
    main()
