"""One run folder as the run page reads it: config, summary, tables, transcript, prompts, figures.

The transcript keeps each prompt's stable part only on the first line with its hash
(agent/icl.py); here the stable parts are moved into one table keyed by hash, so the
page finds any step's full prompt, whatever line first carried it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edge_icl.viewer.discovery import RunFolderFacts, data_url, file_url, find_run_folders, folder_id, run_entries
from edge_icl.viewer.prompt_templates import locate_templates
from edge_icl.viewer.safe_paths import IMAGE_TYPES, is_inside, served_type
from edge_icl.viewer.seed_pairs import seed_pairs
from edge_icl.viewer.tables import read_json

KNOWN_JSON = {"config.yaml", "summary.json", "run.json", "bench.json"}
MAX_EXTRA_JSON_BYTES = 1_000_000
FILE_DEPTH = 3


def run_files(facts: RunFolderFacts) -> list[dict[str, Any]]:
    """The run folder's files (subfolders that are run folders of their own left out), each with its URL when served."""
    root = facts.root
    listed: list[dict[str, Any]] = []
    for current, dirs, names in os.walk(facts.path, followlinks=False):
        here = Path(current)
        depth = len(here.relative_to(facts.path).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < FILE_DEPTH and not (here / d).is_symlink()
                         and not any((here / d / marker).is_file() for marker in ("config.yaml", "summary.json", "steps.csv")))
        for name in sorted(names):
            path = here / name
            if name.startswith(".") or not path.is_file() or not is_inside(path, root):
                continue
            relative = path.relative_to(facts.path).as_posix()
            listed.append({"name": relative, "bytes": path.stat().st_size,
                           "url": file_url(facts.id, relative) if served_type(path) else None,
                           "image": path.suffix.lower() in IMAGE_TYPES})
    return listed


def split_transcript(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The transcript lines without their `prompt_stable` text, and {hash: {"text", "step", ...}} of the stable parts."""
    stable: dict[str, dict[str, Any]] = {}
    kept = []
    for line in lines:
        text = line.get("prompt_stable")
        if isinstance(text, str) and line.get("prompt_hash"):
            first = {k: line[k] for k in ("step", "policy", "seed") if k in line}
            stable.setdefault(str(line["prompt_hash"]), {"text": text, **first})
            line = {k: v for k, v in line.items() if k != "prompt_stable"}
        kept.append(line)
    return kept, stable


def read_run(root: Path, folder: Path) -> dict[str, Any]:
    """Everything the run page shows of the run folder `folder` under `root`."""
    root = root.resolve()
    facts = RunFolderFacts.read(root, folder)
    tables = {name: facts.table(name) for name in facts.csv_names()}
    transcript, prompts = split_transcript(facts.transcript())
    extra_json = {}
    for path in sorted(folder.glob("*.json")):
        if path.name not in KNOWN_JSON and path.is_file() and is_inside(path, root) and path.stat().st_size <= MAX_EXTRA_JSON_BYTES:
            value, note = read_json(path)
            if note:
                facts.notes.append(note)
            else:
                extra_json[path.name] = value
    files = run_files(facts)
    return {
        "id": facts.id,
        "name": facts.name,
        "path": str(folder),
        "kind": facts.kind,
        "problem": facts.problem,
        "entries": run_entries(facts),
        "group_columns": facts.group_columns,
        "seed_pairs": seed_pairs(facts),
        "config": facts.config,
        "summary": facts.summary,
        "run": facts.run,
        "bench": facts.bench,
        "json": extra_json,
        "tables": tables,
        "main_table": facts.main_table,
        "transcript": transcript,
        "prompts": prompts,
        "templates": locate_templates(folder, root, facts.config, facts.bench, facts.problem),
        "figures": [f for f in files if f["image"] and f["url"]],
        "files": files,
        "notes": facts.notes,
    }


def run_folder_by_data_name(root: Path, name: str) -> Path | None:
    """The run folder whose data file is `data/run/<name>` (found by listing, never by joining a path)."""
    root = root.resolve()
    for path in find_run_folders(root):
        if data_url(folder_id(root, path)) == f"data/run/{name}":
            return path
    return None
