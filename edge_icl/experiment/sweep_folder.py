"""A sweep's folder: its spec first, then one line per finished cell, written as cells finish.

Files:
- `spec.yaml` and `sweep.json` (written first): the validated spec and where its relative
  prompt folders are read from; `--resume DIR` runs the same cells from them.
- `steps.csv`: every step row of every finished cell, tagged with the cell's id, policy,
  variant, world and seed (the problem's `task.row` columns after them).
- `transcript.jsonl`: every ICL step record, tagged with the cell id.
- `cells.jsonl`: one JSON line per finished cell, written after its steps: the record
  that a cell is done (a cell killed half-way has no line, and its rows are dropped on
  resume).
- `cells.csv`: the tidy table, one row per finished cell (settings, status, its one-line
  error, the problem's metrics, LLM calls, cache hits, fallback_share, timing); the same rows as
  cells.jsonl, kept in step with it (rewritten only when a row brings a new column).
- `summary.json` and the figures, at the end.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, TextIO

import yaml

from edge_icl.experiment.run_folder import CsvAppender, dumps, read_csv_rows, read_jsonl, rewrite_csv, write_jsonl
from edge_icl.experiment.spec import SweepSpec
from environment.config import read_yaml

SPEC, META, CELLS_LOG, CELLS, STEPS, TRANSCRIPT, SUMMARY = (
    "spec.yaml", "sweep.json", "cells.jsonl", "cells.csv", "steps.csv", "transcript.jsonl", "summary.json",
)


class TidyTable:
    """A CSV of rows that may differ in their columns (a failed cell has no metrics): appended row by
    row, rewritten with the union of the columns when a row brings a new one."""

    def __init__(self, path: Path, rows: list[dict[str, Any]] | None = None) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] = []
        self._handle: TextIO | None = None
        self._writer: csv.DictWriter | None = None
        self.rewrite(rows or [])

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replace the file with `rows` (atomically: a reader never sees half a table)."""
        self.close()
        self.rows = list(rows)
        self.columns = []
        for row in self.rows:
            self.columns += [k for k in row if k not in self.columns]
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        with open(partial, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns, restval="")
            if self.columns:
                writer.writeheader()
            writer.writerows(self.rows)
        os.replace(partial, self.path)

    def add(self, row: dict[str, Any]) -> None:
        """Append `row`, flushed; a new column rewrites the file with it."""
        if any(key not in self.columns for key in row):
            self.rewrite([*self.rows, row])
            return
        if self._writer is None:
            self._handle = open(self.path, "a", newline="")
            self._writer = csv.DictWriter(self._handle, fieldnames=self.columns, restval="")
        self._writer.writerow(row)
        self._handle.flush()
        self.rows.append(row)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle, self._writer = None, None


class SweepFolder:
    """The files of one sweep (see the module note)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._steps = CsvAppender(path / STEPS)
        self._transcript: TextIO | None = None
        self.cells = TidyTable(path / CELLS, read_jsonl(path / CELLS_LOG))

    @classmethod
    def create(cls, path: Path, spec: SweepSpec, meta: dict[str, Any]) -> "SweepFolder":
        """A new sweep folder at `path` (absent, or an empty folder); ValueError (one line) otherwise."""
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            hint = f"; continue it with --resume {path}" if (path / SPEC).is_file() else ""
            raise ValueError(f"--out: {path} exists and is not an empty folder{hint}")
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ValueError(f"--out: {parent} is a file, not a folder")
                break
        path.mkdir(parents=True, exist_ok=True)
        (path / SPEC).write_text(yaml.safe_dump(spec.saved(), sort_keys=False))
        (path / META).write_text(dumps(meta, indent=2) + "\n")
        return cls(path)

    @classmethod
    def existing(cls, path: Path) -> tuple["SweepFolder", SweepSpec, dict[str, Any]]:
        """A sweep folder to resume, its spec and meta; its unfinished and failed cells are dropped first.

        ValueError (one line) when `path` holds no sweep.
        """
        if not (path / SPEC).is_file() or not (path / META).is_file():
            raise ValueError(f"--resume: {path} holds no sweep (spec.yaml and sweep.json)")
        spec = SweepSpec.model_validate(read_yaml(path / SPEC, "sweep spec"))
        meta = json.loads((path / META).read_text())
        prune(path)
        return cls(path), spec, meta

    def finished(self) -> set[str]:
        """The ids of the cells already in the table."""
        return {row["cell_id"] for row in self.cells.rows}

    def record(self, cell_row: dict[str, Any], steps: list[dict[str, Any]], transcript: list[dict[str, Any]]) -> None:
        """Write one finished cell: its steps and transcript, then its line in cells.jsonl and cells.csv."""
        for row in steps:
            self._steps.append(row)
        if transcript:
            if self._transcript is None:
                self._transcript = open(self.path / TRANSCRIPT, "a")
            self._transcript.write("".join(dumps(record) + "\n" for record in transcript))
            self._transcript.flush()
        with open(self.path / CELLS_LOG, "a") as log:
            log.write(dumps(cell_row) + "\n")
        self.cells.add(cell_row)

    def write_summary(self, summary: dict[str, Any]) -> None:
        (self.path / SUMMARY).write_text(dumps(summary, indent=2) + "\n")

    def close(self) -> None:
        self._steps.close()
        self.cells.close()
        if self._transcript is not None:
            self._transcript.close()
            self._transcript = None


def prune(path: Path) -> None:
    """Keep only the cells that finished without error: drop failed and invalid cells (they run again) and
    the rows of cells stopped half-way (steps written, no line in cells.jsonl); cut torn lines."""
    done = [row for row in read_jsonl(path / CELLS_LOG, truncate=True) if row.get("status") == "ok"]
    ids = {row["cell_id"] for row in done}
    write_jsonl(path / CELLS_LOG, done)
    steps = read_csv_rows(path / STEPS, truncate=True)
    kept = [row for row in steps if row["cell_id"] in ids]
    if len(kept) != len(steps):
        rewrite_csv(path / STEPS, kept)
    transcript = path / TRANSCRIPT
    if transcript.exists():
        records = read_jsonl(transcript, truncate=True)
        write_jsonl(transcript, [r for r in records if r.get("cell_id") in ids])
