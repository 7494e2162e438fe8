"""A run folder: config at the start, one CSV row per step as it happens, a summary at the end.

Named `{problem}__{policy}__{seed}__{time}` (CleanRL's convention). An interrupted run
still holds its config and every step it finished.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any, TextIO

import yaml


def run_name(problem: str, policy: str, seed: int) -> str:
    """`{problem}__{policy}__{seed}__{YYYYmmdd-HHMMSS}`."""
    return f"{problem}__{policy}__{seed}__{time.strftime('%Y%m%d-%H%M%S')}"


class CsvAppender:
    """One CSV file written row by row: appended to, the header written when the file is new or empty."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: TextIO | None = None
        self._writer: csv.DictWriter | None = None

    def append(self, row: dict[str, Any]) -> None:
        """Append `row` (its keys are the header) and flush it to disk."""
        if self._writer is None:
            is_new = not self.path.exists() or self.path.stat().st_size == 0
            self._handle = open(self.path, "a", newline="")
            self._writer = csv.DictWriter(self._handle, fieldnames=list(row))
            if is_new:
                self._writer.writeheader()
        self._writer.writerow(row)
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle, self._writer = None, None


class RunFolder:
    """Files of one run under `root/name`; rows are flushed to disk one by one.

    Parameters
    ----------
    root: the parent folder (created if missing).
    name: the run's folder name; a numeric suffix is added if it exists already.
    """

    def __init__(self, root: str | Path, name: str) -> None:
        path = Path(root) / name
        suffix = 1
        while path.exists():
            suffix += 1
            path = Path(root) / f"{name}-{suffix}"
        path.mkdir(parents=True)
        self.path = path
        self._csv: dict[str, CsvAppender] = {}
        self._jsonl: dict[str, TextIO] = {}

    def write_config(self, config: dict[str, Any]) -> None:
        """Write `config.yaml` (call first, before any step runs)."""
        (self.path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def append_row(self, row: dict[str, Any], filename: str = "steps.csv") -> None:
        """Append one row to the CSV `filename`, writing its header with its first row."""
        appender = self._csv.get(filename)
        if appender is None:
            appender = self._csv[filename] = CsvAppender(self.path / filename)
        appender.append(row)

    def append_jsonl(self, filename: str, record: dict[str, Any]) -> None:
        """Append one JSON record (e.g. an LLM call to `transcript.jsonl`), flushed at once."""
        handle = self._jsonl.get(filename)
        if handle is None:
            handle = self._jsonl[filename] = open(self.path / filename, "a")
        handle.write(json.dumps(record, default=str) + "\n")
        handle.flush()

    def write_json(self, filename: str, data: dict[str, Any]) -> None:
        """Write a JSON document (e.g. `summary.json`)."""
        (self.path / filename).write_text(json.dumps(data, indent=2, default=str) + "\n")

    def close(self) -> None:
        """Close every open file."""
        for appender in self._csv.values():
            appender.close()
        for handle in self._jsonl.values():
            handle.close()
        self._csv, self._jsonl = {}, {}
