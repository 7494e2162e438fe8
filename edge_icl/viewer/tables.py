"""Read a run's CSV and JSON files into JSON-safe values, whatever their columns.

Every problem writes its own columns (offloading, association, caching, auction, sweeps),
so nothing here names a column: a CSV cell becomes an int, a float, a bool or a string by
its text alone, and a value that JSON cannot hold (NaN, Infinity) becomes None.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from environment.config import load_yaml

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
BOOLEANS = {"True": True, "False": False, "true": True, "false": False}


def cell_value(text: str) -> int | float | bool | str | None:
    """A CSV cell as the value it spells: '' -> None, '3' -> 3, '0.5' -> 0.5, 'True' -> True, else the text."""
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else text
    return BOOLEANS.get(text, text)


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def read_table(path: Path) -> dict[str, Any]:
    """A CSV file as {"columns": [...], "rows": [[value, ...], ...]}; a short last row (a run cut mid-write) is padded."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        columns = next(reader, [])
        rows = []
        for record in reader:
            if not record:
                continue
            values = [cell_value(text) for text in record[: len(columns)]]
            rows.append(values + [None] * (len(columns) - len(values)))
    return {"columns": columns, "rows": rows}


def table_records(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of `read_table` as dicts keyed by column."""
    return [dict(zip(table["columns"], row)) for row in table["rows"]]


def read_json(path: Path) -> tuple[Any, str | None]:
    """A JSON file's content and None, or None and a one-line note saying why it could not be read."""
    try:
        return json_safe(json.loads(path.read_text(encoding="utf-8"))), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{path.name}: cannot read ({error})"


def read_yaml(path: Path) -> tuple[Any, str | None]:
    """A YAML file's content (safe loader) and None, or None and a one-line note."""
    try:
        return json_safe(load_yaml(path.read_text(encoding="utf-8"))), None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return None, f"{path.name}: cannot read ({reason})"


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON objects of a JSONL file, and a note for each line that is not one (a line cut mid-write)."""
    records: list[dict[str, Any]] = []
    notes: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                notes.append(f"{path.name} line {number}: not JSON ({error.msg}); skipped")
                continue
            if not isinstance(record, dict):
                notes.append(f"{path.name} line {number}: not a JSON object; skipped")
                continue
            records.append(json_safe(record))
    return records, notes
