"""Write the viewer as a static folder that opens from disk (file://), like `inspect view bundle`.

OUT gets index.html, static/, data/ (the run list and one script per run folder) and
files/ (copies of the images and text files of each run folder that resolve inside
RUNS_DIR). OUT is written only when it is new, empty, or a bundle written before
(it holds the marker file), and is then replaced whole.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from edge_icl.viewer.discovery import data_url, require_runs, run_list
from edge_icl.viewer.page_files import INDEX_DATA, data_script, static_assets
from edge_icl.viewer.run_data import read_run
from edge_icl.viewer.safe_paths import BUNDLE_MARKER, file_under_root


class BundleError(ValueError):
    """OUT cannot hold a bundle; the message is one line."""


@dataclass
class BundleReport:
    index: Path
    runs: int
    folders: int
    files: int


def _check_out(root: Path, out: Path) -> None:
    resolved = out.resolve()
    if resolved == root or root.is_relative_to(resolved):  # checked first: the folder is replaced whole
        raise BundleError(f"--bundle: {out} holds the runs folder {root}; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise BundleError(f"--bundle: {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / BUNDLE_MARKER).is_file():
        raise BundleError(f"--bundle: {out} is not empty and holds no earlier bundle; choose a new or empty folder")


def write_bundle(root: Path, out: Path) -> BundleReport:
    """Write the page for the runs under `root` into the folder `out`.

    BundleError when `out` cannot take it, NoRunsError when `root` holds no run (nothing is written then).
    """
    root = root.resolve()
    _check_out(root, out)
    folders = require_runs(root)
    if out.exists():
        shutil.rmtree(out)
    (out / "static").mkdir(parents=True)
    (out / BUNDLE_MARKER).write_text("written by `edge-icl view --bundle`; the folder is replaced when a bundle is written again\n")
    assets = static_assets()
    (out / "index.html").write_bytes(assets["index.html"])
    for name, content in assets.items():
        if name != "index.html":
            (out / "static" / name).write_bytes(content)
    listing = run_list(root)
    (out / INDEX_DATA).parent.mkdir(parents=True)
    (out / INDEX_DATA).write_bytes(data_script(INDEX_DATA, listing))
    copied = 0
    for folder in folders:
        run = read_run(root, folder)
        key = data_url(run["id"])
        (out / key).parent.mkdir(parents=True, exist_ok=True)
        (out / key).write_bytes(data_script(key, run))
        for entry in run["files"]:
            if entry["url"] is None:
                continue
            relative = unquote(entry["url"].removeprefix("files/"))
            source = file_under_root(root, relative)
            if source is None:
                continue
            target = out / "files" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied += 1
    return BundleReport(index=out / "index.html", runs=len(listing["runs"]), folders=len(folders), files=copied)
