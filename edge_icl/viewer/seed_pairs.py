"""The compare page's interval: B - A over seeds, paired by seed, for the runs of one bench or sweep.

The steps of one run are no sample of independent draws: a learning agent's decision at
step t reads a pool that its earlier decisions filled, and the request stream drifts, so a
paired t over the steps of one run (what the page showed before) gives an interval far too
narrow. The unit that repeats independently is the seed: a new world, a new stream, a new
pool. So where a folder holds several seeds of each arm (an arm: a bench's policy, a
sweep's policy x variant x world, i.e. a group of GROUP_COLUMNS less the seed), the page
shows the difference of the arms' per-seed means with its 95% t interval over the seeds
both ran, computed here in Python (`edge_icl.experiment.bench.paired_difference`, the benches' own
LLM-lift interval) when the page data is built, so the static bundle has it too and the
page carries no t table.

For one pair of runs (two run folders, or one seed) the page shows no interval and says
why. A block bootstrap over steps was the alternative; it was left out because it still
treats blocks of one run as exchangeable, which a learning agent's non-stationary reward is
not (early blocks explore, late ones exploit), its answer hangs on a block length nobody can
check on 30-200 steps, and the pair is only known when a reader picks it, so a static
bundle would have to hold it for every pair of runs.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from edge_icl.viewer.discovery import STEP_TABLE, RunFolderFacts, group_label, mean_of
from edge_icl.viewer.tables import table_records

SEED = "seed"
MIN_SEEDS = 2  # a t interval needs two differences


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_columns(records: list[dict[str, Any]], columns: list[str], skip: set[str]) -> list[str]:
    """The columns whose every filled cell is a number (bools and text are no metric)."""
    kept = []
    for column in columns:
        values = [r.get(column) for r in records if r.get(column) is not None]
        if column not in skip and values and all(_is_number(v) for v in values):
            kept.append(column)
    return kept


def seed_pairs(facts: RunFolderFacts) -> dict[str, Any]:
    """Every pair of arms of the folder with MIN_SEEDS or more seeds in common, per numeric column.

    {"arms": [{"label", "group", "seeds"}], "pairs": [{"a", "b", "column", "mean", "std",
    "ci95", "seeds", "per_seed"}]}: each pair is b - a, arms in order of appearance (the page
    negates it for a - b); empty lists for a single run or one seed."""
    from edge_icl.experiment.bench import paired_difference  # here, not at the top: edge_icl.cli imports the viewer

    group_columns = facts.group_columns
    if SEED not in group_columns or len(group_columns) < 2:
        return {"arms": [], "pairs": []}
    table = facts.table(STEP_TABLE)
    records = table_records(table)
    arm_columns = [c for c in group_columns if c != SEED]
    steps: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    arms: dict[str, dict[str, Any]] = {}
    for record in records:
        arm = {c: record.get(c) for c in arm_columns}
        label = group_label(arm)
        arms.setdefault(label, arm)
        steps.setdefault(label, {}).setdefault(record.get(SEED), []).append(record)
    columns = numeric_columns(records, table["columns"], {*group_columns, "step"})
    means = {
        label: {seed: {c: mean_of([r.get(c) for r in rows]) for c in columns} for seed, rows in by_seed.items()}
        for label, by_seed in steps.items()
    }
    pairs = []
    for a, b in combinations(arms, 2):
        if len(set(means[a]) & set(means[b])) < MIN_SEEDS:
            continue
        for column in columns:
            difference = paired_difference({s: m[column] for s, m in means[b].items()}, {s: m[column] for s, m in means[a].items()})
            if difference["seeds"] >= MIN_SEEDS:
                pairs.append({"a": a, "b": b, "column": column, **difference})
    listed = [{"label": label, "group": arm, "seeds": sorted(steps[label], key=str)} for label, arm in arms.items()]
    return {"arms": listed, "pairs": pairs}

