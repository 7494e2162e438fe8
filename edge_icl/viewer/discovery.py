"""Find the run and bench folders under RUNS_DIR and the run list's row for each.

A run folder is any folder holding one of RUN_MARKERS (config.yaml, steps.csv, ...).
A bench folder's steps.csv holds many runs, told apart by its GROUP_COLUMNS (policy,
seed; a sweep's also variant and world): each group is a row of its own, a run on that
seed's stream.
Metrics are read from summary.json when the run wrote one, else computed from the rows
with the columns METRIC_COLUMNS names, when the table has them; a problem without them
shows its other facts and blanks. A run whose fallback made more than its
max_fallback_share of the LLM decisions (agent/fallback_share.py) is listed with
`valid: false`: its summary says so, or for a bench group (and a run without a
summary) its transcript lines do.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agent.fallback_share import count_records
from agent.settings import AgentSettings
from edge_icl.viewer.prompt_templates import prompt_label, prompt_setting
from edge_icl.viewer.safe_paths import BUNDLE_MARKER, is_inside
from edge_icl.viewer.tables import read_json, read_jsonl, read_table, read_yaml, table_records

RUN_MARKERS = ("config.yaml", "summary.json", "steps.csv", "bench.json", "run.json", "transcript.jsonl")
STEP_TABLE = "steps.csv"
TRANSCRIPT = "transcript.jsonl"
GROUP_COLUMNS = ("policy", "variant", "world", "seed")  # those the table has; a sweep's cells differ in variant and world too
# The run list's metrics: the step-table columns they are computed from, when present.
METRIC_COLUMNS = {"reward": "reward", "oracle_reward": "oracle_reward", "action": "action", "oracle_action": "oracle_action"}
# summary.json keys holding the same metrics (edge-icl run writes them).
SUMMARY_KEYS = {"mean_reward": "mean_reward", "oracle_reward": "oracle_mean_reward", "accuracy": "decision_accuracy",
                "llm_calls": "llm_calls", "backend": "backend", "model": "model", "steps": "steps"}
_STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})")
MAX_DEPTH = 8


def folder_id(root: Path, folder: Path) -> str:
    """A run folder's id: its '/'-separated path relative to RUNS_DIR ('.' for RUNS_DIR itself)."""
    return folder.relative_to(root).as_posix()


def data_url(folder: str) -> str:
    """The relative URL of a run folder's data file (a hash: no path from the runs folder appears in it)."""
    return f"data/run/{hashlib.sha256(folder.encode()).hexdigest()[:16]}.js"


def file_url(folder: str, name: str) -> str:
    """The relative URL of a file of a run folder (server: /files/...; bundle: a copy under files/)."""
    return "files/" + quote(f"{folder}/{name}" if folder != "." else name, safe="/")


def _is_run_folder(path: Path, root: Path) -> bool:
    return any((path / name).is_file() and is_inside(path / name, root) for name in RUN_MARKERS)


def find_run_folders(root: Path) -> list[Path]:
    """Every run or bench folder under `root` (itself included), sorted; symlinked folders and bundles are skipped."""
    root = root.resolve()
    found: list[Path] = []
    for current, dirs, _files in os.walk(root, followlinks=False):
        here = Path(current)
        if (here / BUNDLE_MARKER).exists():
            dirs[:] = []
            continue
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here / d).is_symlink() and depth < MAX_DEPTH)
        if _is_run_folder(here, root):
            found.append(here)
    return sorted(found)


class NoRunsError(ValueError):
    """RUNS_DIR holds no run or bench folder (a wrong folder, most likely); the message is one line."""


def require_runs(root: Path) -> list[Path]:
    """`find_run_folders(root)`, or NoRunsError naming `root` when there is none: a page of no runs is not shown."""
    folders = find_run_folders(root)
    if not folders:
        raise NoRunsError(f"RUNS_DIR: {root} holds no run or bench folder (none of {', '.join(RUN_MARKERS)} in it or up to {MAX_DEPTH} folders below)")
    return folders


@dataclass
class RunFolderFacts:
    """What a run folder's small files say, read once (tables and transcript on demand)."""

    root: Path
    path: Path
    notes: list[str] = field(default_factory=list)
    config: Any = None
    summary: Any = None
    run: Any = None
    bench: Any = None
    _tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    _csv: list[str] | None = None
    _transcript: list[dict[str, Any]] | None = None

    @classmethod
    def read(cls, root: Path, path: Path) -> RunFolderFacts:
        facts = cls(root=root.resolve(), path=path)
        for attr, name, reader in (("config", "config.yaml", read_yaml), ("summary", "summary.json", read_json),
                                   ("run", "run.json", read_json), ("bench", "bench.json", read_json)):
            file = path / name
            if file.is_file() and is_inside(file, facts.root):
                value, note = reader(file)
                setattr(facts, attr, value if isinstance(value, dict) else None)
                if note:
                    facts.notes.append(note)
                elif not isinstance(value, dict):
                    facts.notes.append(f"{name}: not a mapping; ignored")
        return facts

    @property
    def id(self) -> str:
        return folder_id(self.root, self.path)

    @property
    def name(self) -> str:
        return self.path.name if self.path != self.root else self.root.name

    @property
    def name_parts(self) -> list[str]:
        return self.name.split("__")

    @property
    def problem(self) -> str:
        parts = self.name_parts
        return parts[0].removeprefix("bench-") if len(parts) > 1 else ""

    @property
    def kind(self) -> str:
        return "bench" if self.bench is not None or self.name.startswith("bench-") or self.group_columns else "run"

    def csv_names(self) -> list[str]:
        if self._csv is None:  # listed once per read
            self._csv = sorted(p.name for p in self.path.glob("*.csv") if p.is_file() and is_inside(p, self.root))
        return list(self._csv)

    def table(self, name: str) -> dict[str, Any]:
        if name not in self._tables:
            self._tables[name] = read_table(self.path / name)
        return self._tables[name]

    @property
    def main_table(self) -> str | None:
        names = self.csv_names()
        if STEP_TABLE in names or not names:
            return STEP_TABLE if names else None
        return max(names, key=lambda name: (self.path / name).stat().st_size)  # else the largest table

    @property
    def group_columns(self) -> list[str]:
        if STEP_TABLE not in self.csv_names():
            return []
        return [c for c in GROUP_COLUMNS if c in self.table(STEP_TABLE)["columns"]]

    def transcript(self) -> list[dict[str, Any]]:
        if self._transcript is None:
            file = self.path / TRANSCRIPT
            self._transcript = []
            if file.is_file() and is_inside(file, self.root):
                self._transcript, notes = read_jsonl(file)
                self.notes.extend(notes)
        return self._transcript

    def started(self) -> str:
        match = _STAMP.search(self.name)
        if match:
            y, mo, d, h, mi, s = match.groups()
            return f"{y}-{mo}-{d} {h}:{mi}:{s}"
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.path.stat().st_mtime))

    def groups(self) -> list[dict[str, Any]]:
        """The (policy, seed) groups of a bench's step table in order of appearance; [{}] for a single run."""
        columns = self.group_columns
        if not columns:
            return [{}]
        seen: dict[tuple, dict[str, Any]] = {}
        for record in table_records(self.table(STEP_TABLE)):
            key = tuple(record.get(c) for c in columns)
            seen.setdefault(key, {c: record.get(c) for c in columns})
        return list(seen.values()) or [{}]


def in_group(record: dict[str, Any], group: dict[str, Any]) -> bool:
    """Whether a row or transcript line belongs to `group` (values compared as text: CSV and JSON may differ in type)."""
    return all(str(record.get(k)) == str(v) for k, v in group.items())


def group_label(group: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items())


def mean_of(values: list[Any]) -> float | None:
    """The mean of the numbers among `values` (None, text and bools left out); None when there are none."""
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return sum(numbers) / len(numbers) if numbers else None


def step_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Steps, mean reward, mean oracle reward and accuracy (action == oracle action) of a run's rows."""
    metrics: dict[str, Any] = {"steps": len(records)}
    if records and METRIC_COLUMNS["reward"] in records[0]:
        metrics["mean_reward"] = mean_of([r.get(METRIC_COLUMNS["reward"]) for r in records])
    if records and METRIC_COLUMNS["oracle_reward"] in records[0]:
        metrics["oracle_reward"] = mean_of([r.get(METRIC_COLUMNS["oracle_reward"]) for r in records])
    action, oracle = METRIC_COLUMNS["action"], METRIC_COLUMNS["oracle_action"]
    pairs = [(r.get(action), r.get(oracle)) for r in records if r.get(action) is not None and r.get(oracle) is not None]
    if pairs:
        metrics["accuracy"] = sum(str(a) == str(o) for a, o in pairs) / len(pairs)
    return metrics


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def max_fallback_share(facts: RunFolderFacts) -> float:
    """The share the folder's agent was judged by: its summary's, else its settings' (bench.json, config.yaml), else the default."""
    for value in (
        (facts.summary or {}).get("max_fallback_share"),
        ((facts.bench or {}).get("agent") or {}).get("max_fallback_share"),
        ((facts.config or {}).get("icl") or {}).get("max_fallback_share"),
    ):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return float(AgentSettings.model_fields["max_fallback_share"].default)


def fallback_facts(summary: dict[str, Any], lines: list[dict[str, Any]], limit: float, group: dict[str, Any]) -> dict[str, Any]:
    """A run list row's fallback_share and valid: a single run's summary where it says them, else counted from its transcript lines."""
    if not group and "valid" in summary:
        return {"fallback_share": summary.get("fallback_share"), "max_fallback_share": limit, "valid": summary["valid"] is not False}
    return count_records(lines).facts(limit)


def entry_id(folder: str, group: dict[str, Any]) -> str:
    """The run list's id of a run: its folder's id, and for a bench group `::policy=...,seed=...`."""
    return f"{folder}::{group_label(group)}" if group else folder


def run_entries(facts: RunFolderFacts) -> list[dict[str, Any]]:
    """The run list's rows of one folder: one for a run, one per (policy, seed) group for a bench."""
    summary = facts.summary or {}
    config = facts.config or {}
    has_prompt, prompt = prompt_setting(facts.config, facts.bench)
    parts = facts.name_parts
    main = facts.main_table
    entries = []
    all_records = table_records(facts.table(main)) if main else []
    by_group: dict[str, list[dict[str, Any]]] = {}
    group_columns = facts.group_columns
    for record in all_records:
        by_group.setdefault(group_label({c: record.get(c) for c in group_columns}), []).append(record)
    for group in facts.groups():
        records = by_group.get(group_label(group), []) if group else all_records
        computed = step_metrics(records) if main == STEP_TABLE else {}
        metrics = dict(computed)
        if not group:  # the run's own summary wins where it has the number
            metrics.update({key: summary[name] for key, name in SUMMARY_KEYS.items() if summary.get(name) is not None})
        # The summary has the LLM facts of a single run; a bench group's come from its transcript lines.
        needs_transcript = bool(group) or summary.get("llm_calls") is None or (summary.get("llm_calls") and "valid" not in summary)
        lines = [line for line in facts.transcript() if in_group(line, group)] if needs_transcript else []
        if metrics.get("llm_calls") is None:
            metrics["llm_calls"] = sum(1 for line in lines if line.get("llm_call", "prompt_hash" in line))
        with_backend = next((line for line in lines if line.get("backend")), {})
        policy = _first(group.get("policy"), summary.get("policy"), parts[1] if len(parts) > 2 else None)
        seed = _first(group.get("seed"), summary.get("seed"), config.get("seed"), _int(parts[2]) if len(parts) > 3 else None)
        uses_llm = bool(metrics["llm_calls"]) or (not group and has_prompt)
        entries.append({
            "id": entry_id(facts.id, group),
            "folder": facts.id,
            "group": group,
            "name": facts.name,
            "kind": facts.kind,
            "problem": facts.problem,
            "policy": policy,
            "seed": seed,
            "steps": metrics.get("steps"),
            "mean_reward": metrics.get("mean_reward"),
            "oracle_reward": metrics.get("oracle_reward"),
            "accuracy": metrics.get("accuracy"),
            "llm_calls": metrics["llm_calls"],
            "backend": _first(metrics.get("backend"), with_backend.get("backend")) if uses_llm else None,
            "model": _first(metrics.get("model"), with_backend.get("model")) if uses_llm else None,
            "prompt": prompt_label(has_prompt, prompt, facts.problem) if uses_llm else None,
            "started": facts.started(),
            "status": "complete" if facts.summary is not None else "incomplete",
            **fallback_facts(summary, lines, max_fallback_share(facts), group),
            "data": data_url(facts.id),
        })
    return entries


def _int(text: str) -> int | None:
    return int(text) if text.lstrip("-").isdigit() else None


def run_list(root: Path) -> dict[str, Any]:
    """The run list: {"root": RUNS_DIR, "runs": [entry, ...], "notes": [...]}."""
    root = root.resolve()
    runs: list[dict[str, Any]] = []
    notes: list[str] = []
    for path in find_run_folders(root):
        facts = RunFolderFacts.read(root, path)
        try:
            runs.extend(run_entries(facts))
        except (OSError, UnicodeDecodeError) as error:
            notes.append(f"{facts.id}: cannot read ({error})")
        notes.extend(f"{facts.id}: {note}" for note in facts.notes)
    return {"root": str(root), "runs": runs, "notes": notes}
