"""Kill points of run, bench and sweep folders, and the comparison of a resumed folder with an uninterrupted one.

Every file a command writes while it works is appended to in order (steps.csv,
transcript.jsonl, cells.jsonl), or written once at a known moment (config, summary). So
the folder a kill leaves at a chosen moment is the uninterrupted folder cut back to
that moment: its setup files, a prefix of each appended file, perhaps half a line. A
kill at a precise point (between two writes, or in the middle of a line) cannot be hit
reliably by timing a signal; these functions make the files as such a kill leaves them,
and the tests that send a real SIGKILL to a child process take the point it lands on.

`assert_same_folder` compares two folders byte for byte, file by file, leaving out only
the fields named in `*_EXCLUDED` tables: wall-clock times, and the few facts that say what one
process did rather than what the run decided (each with its reason there).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from edge_icl.experiment.engine import TIMING_COLUMNS

# Fields left out of the comparison, by file name (one table per command). Everything else must be
# equal byte for byte.
TRANSCRIPT = {
    # Wall-clock seconds of an LLM call, of its calibration call, and of the stored call a cache
    # hit saved. `evaluated_tokens` is not a time but how much of the prompt llama.cpp evaluated
    # anew: it depends on what its KV cache held from the call before, and a resumed process
    # starts cold (prefix reuse, agent/backends/llama_cpp.py). The prompt, the scores and the
    # decision of every call are compared.
    "transcript.jsonl": ("latency_s", "calibration_latency_s", "saved_latency_s", "evaluated_tokens"),
}
RUN_EXCLUDED = {
    **TRANSCRIPT,
    # The command's wall-clock time, and the step it resumed at (None when never stopped).
    "run.json": ("wall_s", "resumed_at_step"),
    # The median LLM latency (wall-clock), and the LLM call cache's counts of the calls this
    # process made (model_calls, cache_hits, saved_latency_s): a resume replays the finished
    # steps without calling the model. `llm_calls` (decisions the LLM was asked for) is compared.
    "summary.json": ("llm_median_latency_ms", "model_calls", "cache_hits", "saved_latency_s"),
}
BENCH_EXCLUDED = {
    **TRANSCRIPT,
    # bench association: seconds per group and in all (a resume times only the groups it ran).
    "summary.json": ("wall_s",),
}
SWEEP_EXCLUDED = {
    **TRANSCRIPT,
    # The timing columns of a cell's row (sweep_engine.TIMING_COLUMNS: latency, seconds, worker).
    "cells.csv": TIMING_COLUMNS,
    "cells.jsonl": TIMING_COLUMNS,
    # What this invocation did (edge_icl/cli/sweep.py `summarize`): cells run, LLM calls, hits, seconds.
    "summary.json": ("ran", "llm_calls", "cache_hits", "hit_rate", "llm_decisions", "wall_s"),
}


def _without(value: Any, keys: Iterable[str]) -> Any:
    """`value` with `keys` dropped from every mapping in it (nested ones too)."""
    keys = tuple(keys)
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def comparable(path: Path, folder: Path, excluded: dict[str, tuple[str, ...]]) -> Any:
    """A file's content as compared: its bytes, or with excluded fields its parsed content without them.

    The folder's own path inside a file (run.json's run_dir, a sweep summary's table) reads as
    `<folder>`, so two folders compare by what they hold, not where they are.
    """
    keys = excluded.get(path.name, ())
    data = path.read_bytes()
    if not keys:
        return data.replace(str(folder).encode(), b"<folder>")
    text = data.decode("utf-8").replace(str(folder), "<folder>")
    if path.suffix == ".json":
        return _without(json.loads(text), keys)
    if path.suffix == ".jsonl":
        return [_without(json.loads(line), keys) for line in text.splitlines()]
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows:
            return []
        kept = [i for i, name in enumerate(rows[0]) if name not in keys]
        return [[row[i] for i in kept] for row in rows]
    raise AssertionError(f"no rule to leave fields out of {path}")


def assert_same_folder(resumed: Path, whole: Path, excluded: dict[str, tuple[str, ...]]) -> None:
    """The same files, each equal byte for byte but for the `excluded` fields."""
    names = sorted(str(p.relative_to(resumed)) for p in resumed.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(whole)) for p in whole.rglob("*") if p.is_file()), "other files"
    for name in names:
        assert comparable(resumed / name, resumed, excluded) == comparable(whole / name, whole, excluded), f"{name} differs"


def copy_setup(whole: Path, target: Path, setup: Iterable[str]) -> Path:
    """`target` holding only the files and folders `setup` of `whole`: what a command writes before its first row."""
    target.mkdir(parents=True)
    for name in setup:
        source = whole / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copyfile(source, target / name)
    return target


def csv_lines(path: Path) -> list[str]:
    """The lines of a CSV as written (`\\r\\n` line ends kept)."""
    return path.read_bytes().decode("utf-8").splitlines(keepends=True) if path.exists() else []


def half(line: str) -> str:
    """The first half of a line: a write torn by a kill."""
    return line[: max(1, len(line.rstrip("\r\n")) // 2)]


def cut_steps(
    whole: Path,
    target: Path,
    rows: int,
    torn: str | None,
    key: Callable[[dict[str, Any]], tuple],
    steps: str = "steps.csv",
    transcript: str = "transcript.jsonl",
) -> None:
    """Write into `target` the steps.csv and transcript.jsonl of `whole` as a kill after `rows` rows leaves them.

    A step's transcript record is written before its row. `torn`: None, the kill came right
    after row `rows` was flushed; "row", in the middle of writing the next row (its record is
    whole); "record", in the middle of writing the next row's record. `key` names the step of
    a row or a record (e.g. (policy, seed, step)); the records kept must be a prefix of the
    transcript (both files are written in one order), which is asserted.
    """
    lines = csv_lines(whole / steps)
    header, data = lines[:1], lines[1:]
    assert 0 <= rows <= len(data), (rows, len(data))
    kept = data[:rows]
    parsed = [dict(zip(next(csv.reader([header[0]])), next(csv.reader([line])))) for line in data[: rows + 1]] if header else []
    done_keys = {key(row) for row in parsed[:rows]}
    next_key = key(parsed[rows]) if rows < len(data) else None
    tail = half(data[rows]) if torn == "row" and next_key is not None else ""
    if kept or tail:  # the header goes out with the first row
        (target / steps).write_bytes("".join([*header, *kept, tail]).encode("utf-8"))
    records_path = whole / transcript
    if not records_path.exists():
        return
    records = records_path.read_text().splitlines(keepends=True)
    keys = [key(json.loads(line)) for line in records]
    done = [i for i, k in enumerate(keys) if k in done_keys]
    assert done == list(range(len(done))), "the records of the rows kept are not a prefix of the transcript"
    out = records[: len(done)]
    if next_key is not None and len(done) < len(records) and keys[len(done)] == next_key:
        if torn == "row":
            out.append(records[len(done)])
        elif torn == "record":
            out.append(half(records[len(done)]))
    if out:
        (target / transcript).write_text("".join(out))


def wait_for_rows(folder_parent: Path, rows: int, process: subprocess.Popen, limit_s: float = 120, name: str = "steps.csv") -> Path:
    """The folder under `folder_parent` whose file `name` holds `rows` lines after its header (or
    `rows` lines, for a JSONL file), once it does; polls while `process` runs."""
    header = 0 if name.endswith(".jsonl") else 1
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        for path in folder_parent.glob(f"*/{name}"):
            if path.read_bytes().count(b"\n") - header >= rows:
                return path.parent
        time.sleep(0.02)
    raise AssertionError(f"no {rows} rows within {limit_s} s")


def cut_sweep(whole: Path, target: Path, cells: int, rows: int = 0, torn: str | None = None) -> Path:
    """`whole`, a sweep folder, as a kill leaves it after `cells` finished cells (run one after the other).

    A sweep writes a finished cell's step rows, then its transcript records, then its line in
    cells.jsonl and its row in cells.csv (edge_icl/experiment/sweep_folder.py `record`). `rows`: step
    rows of the next cell written before the kill; `torn`: "row", half of its next step row
    too; "cells.jsonl", every step and record of the next cell written and half of its line.
    No summary, no figures. spec.yaml, sweep.json and an empty cells.csv are there from the start.
    """
    copy_setup(whole, target, ["spec.yaml", "sweep.json"])
    log = (whole / "cells.jsonl").read_text().splitlines(keepends=True)
    ids = [json.loads(line)["cell_id"] for line in log]
    table = csv_lines(whole / "cells.csv")
    (target / "cells.csv").write_bytes("".join(table[: 1 + cells] if cells else []).encode())
    steps = csv_lines(whole / "steps.csv")
    cell_of = [line.split(",", 1)[0] for line in steps[1:]]  # cell_id is the first column
    assert cell_of == sorted(cell_of, key=ids.index), "steps.csv is not in the order the cells finished"
    done = sum(1 for c in cell_of if c in ids[:cells])
    nxt = cell_of[done:].count(ids[cells]) if cells < len(ids) else 0
    if torn == "cells.jsonl":
        rows = nxt
    assert rows <= nxt
    kept = steps[1 : 1 + done + rows]
    tail = half(steps[1 + done + rows]) if torn == "row" and rows < nxt else ""
    if kept or tail:  # the header goes out with the first row
        (target / "steps.csv").write_bytes("".join([*steps[:1], *kept, tail]).encode())
    finished = ids[: cells + 1] if torn == "cells.jsonl" else ids[:cells]
    if (whole / "transcript.jsonl").exists():
        records = [line for line in (whole / "transcript.jsonl").read_text().splitlines(keepends=True) if json.loads(line)["cell_id"] in finished]
        if records:
            (target / "transcript.jsonl").write_text("".join(records))
    if cells or torn == "cells.jsonl":
        (target / "cells.jsonl").write_text("".join(log[:cells]) + (half(log[cells]) if torn == "cells.jsonl" else ""))
    return target
