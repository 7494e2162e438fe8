"""A run folder: config at the start, one CSV row per step as it happens, a summary at the end.

Named `{problem}__{policy}__{seed}__{time}` (CleanRL's convention). An interrupted run
still holds its config and every step it finished; a line torn by a kill mid-write is
dropped when the folder is read back (`read_csv_rows`, `read_jsonl`). Every JSON written
is strict: a non-finite number is written as null, never NaN or Infinity.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, TextIO

import yaml

from environment.config import read_yaml


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float (NaN, +-Infinity) replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """Strict JSON of `value` (non-finite floats as null; other objects as str)."""
    return json.dumps(json_safe(value), allow_nan=False, default=str, **options)


def _complete_lines(path: Path) -> tuple[list[str], int]:
    """The newline-terminated lines of `path` and the byte length they span (a torn last line excluded)."""
    data = path.read_bytes() if path.exists() else b""
    end = data.rfind(b"\n") + 1
    return data[:end].decode("utf-8").splitlines(keepends=True), end


def read_csv_rows(path: Path, truncate: bool = False) -> list[dict[str, str]]:
    """The rows of a CSV written by `CsvAppender`; a torn last line (no newline, or too few or
    too many fields) is dropped, and with `truncate` cut from the file so appends continue cleanly."""
    lines, end = _complete_lines(path)
    rows: list[dict[str, str]] = []
    kept_bytes = 0
    if lines:
        header = next(csv.reader([lines[0]]))
        kept_bytes = len(lines[0].encode())
        for line in lines[1:]:
            values = next(csv.reader(io.StringIO(line)), [])
            if len(values) != len(header):
                break
            rows.append(dict(zip(header, values)))
            kept_bytes += len(line.encode())
    if truncate and path.exists() and path.stat().st_size != kept_bytes:
        with open(path, "r+b") as handle:
            handle.truncate(kept_bytes)
    return rows


def read_jsonl(path: Path, truncate: bool = False) -> list[dict[str, Any]]:
    """The records of a JSONL file; a torn or unreadable last line is dropped (and cut with `truncate`)."""
    lines, _ = _complete_lines(path)
    records: list[dict[str, Any]] = []
    kept_bytes = 0
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
        kept_bytes += len(line.encode())
    if truncate and path.exists() and path.stat().st_size != kept_bytes:
        with open(path, "r+b") as handle:
            handle.truncate(kept_bytes)
    return records


def replace_text(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically: a kill at any moment leaves the old file or the new one, never
    part of either (a resume that rewrites a folder's files loses nothing when it is killed too).

    A file that holds `text` already is left alone. The new text goes to `path.partial` first, a
    fixed name, so that the next resume, which writes the same, takes over one a kill left there.
    """
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return
    partial = path.with_name(f"{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def rewrite_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace the CSV at `path` with `rows` (the first row's keys are the header), byte for byte what
    `CsvAppender` writes for them, atomically (`replace_text`); no rows: no file, as before the first append."""
    if not rows:
        path.unlink(missing_ok=True)
        return
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    replace_text(path, out.getvalue())


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace `path` with exactly `records`, one strict JSON line each (atomically: `replace_text`)."""
    replace_text(path, "".join(dumps(r) + "\n" for r in records))


def check_out_dir(out: Path) -> None:
    """Raise ValueError (one line) when `out` cannot hold run folders: it is a file, or under one."""
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ValueError(f"--out: {folder} is a file, not a folder")
            return


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
        check_out_dir(Path(root))
        path = Path(root) / name
        suffix = 1
        while path.exists():
            suffix += 1
            path = Path(root) / f"{name}-{suffix}"
        path.mkdir(parents=True)
        self.path = path
        self._csv: dict[str, CsvAppender] = {}
        self._jsonl: dict[str, TextIO] = {}

    @classmethod
    def existing(cls, path: str | Path) -> "RunFolder":
        """An existing run folder, opened to append to (`edge-icl run --resume`)."""
        folder = cls.__new__(cls)
        folder.path = Path(path)
        if not folder.path.is_dir():
            raise ValueError(f"--resume: {folder.path} is not a run folder")
        folder._csv, folder._jsonl = {}, {}
        return folder

    def read_config(self) -> dict[str, Any]:
        """The `config.yaml` written at the start of the run."""
        path = self.path / "config.yaml"
        if not path.is_file():
            raise ValueError(f"--resume: {self.path} holds no config.yaml")
        return read_yaml(path, "run config")

    def write_config(self, config: dict[str, Any]) -> None:
        """Write `config.yaml` (call first, before any step runs)."""
        (self.path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def copy_templates(self, prompt_folder: Path) -> None:
        """Keep a copy of the prompt templates the run used in `prompt/` (the viewer diffs them)."""
        target = self.path / "prompt"
        target.mkdir(exist_ok=True)
        for template in sorted(Path(prompt_folder).glob("*.j2")):
            shutil.copyfile(template, target / template.name)

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
        handle.write(dumps(record) + "\n")
        handle.flush()

    def write_json(self, filename: str, data: dict[str, Any]) -> None:
        """Write a JSON document (e.g. `summary.json`)."""
        (self.path / filename).write_text(dumps(data, indent=2) + "\n")

    def close(self) -> None:
        """Close every open file."""
        for appender in self._csv.values():
            appender.close()
        for handle in self._jsonl.values():
            handle.close()
        self._csv, self._jsonl = {}, {}
