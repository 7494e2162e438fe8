"""`write_bundle`: the page as a static folder, with copies of the run files that are safe to hand out."""

import os
import re

import pytest

from edge_icl.viewer.bundle import BundleError, write_bundle
from edge_icl.viewer.discovery import data_url, find_run_folders
from edge_icl.viewer.page_files import static_assets
from edge_icl.viewer.safe_paths import BUNDLE_MARKER


@pytest.fixture()
def runs(tmp_path):
    root = tmp_path / "runs"
    run = root / "offloading__oracle__1__20260101-000000"
    run.mkdir(parents=True)
    (run / "steps.csv").write_text("step,reward\n0,1.0\n")
    (run / "summary.json").write_text('{"mean_reward": 1.0}')
    (run / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "notes.html").write_text("<script>alert(1)</script>")
    (tmp_path / "secret.png").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.png", run / "leak.png")
    return root, run


def test_the_bundle_holds_the_page_the_data_and_safe_copies_only(runs, tmp_path):
    root, run = runs
    report = write_bundle(root, tmp_path / "site")
    site = tmp_path / "site"
    assert report.index == site / "index.html" and report.runs == 1 and report.folders == 1
    assert {p.name for p in (site / "static").iterdir()} == set(static_assets()) - {"index.html"}
    assert (site / "data" / "index.js").read_bytes().startswith(b'EdgeICL.data.receive("data/index.js"')
    assert (site / data_url(run.name)).is_file()
    copied = {p.name for p in (site / "files" / run.name).iterdir()}
    assert copied == {"steps.csv", "summary.json", "figure.png"}  # no HTML, no symlink pointing outside
    assert report.files == 3


def test_a_bundle_is_rewritten_in_place_but_a_foreign_folder_is_left_alone(runs, tmp_path):
    root, _ = runs
    write_bundle(root, tmp_path / "site")
    (tmp_path / "site" / "stale.txt").write_text("from an older bundle")
    write_bundle(root, tmp_path / "site")
    assert not (tmp_path / "site" / "stale.txt").exists() and (tmp_path / "site" / BUNDLE_MARKER).is_file()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(BundleError, match="not empty"):
        write_bundle(root, tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"
    with pytest.raises(BundleError, match="holds the runs folder"):
        write_bundle(root, tmp_path)


def test_a_bundle_inside_runs_dir_is_not_taken_for_runs(runs):
    root, run = runs
    write_bundle(root, root / "site")
    assert find_run_folders(root) == [run.resolve()]


def test_the_page_never_builds_markup_from_text_and_reaches_nothing_outside():
    assets = static_assets()
    assert {"index.html", "core.js", "viewer.css"} <= set(assets)
    for name, content in assets.items():
        text = content.decode()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(", "setTimeout(\"", "javascript:"):
            assert banned not in text, (name, banned)
        assert re.findall(r"(?:https?:)?//[\w-]+\.[\w.]+", text.replace("http://www.w3.org/2000/svg", "")) == [], name
