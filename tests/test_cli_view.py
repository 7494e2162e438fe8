"""`edge-icl view`: serve the page (prints its URL) or write it with --bundle; bad input is one line."""

import signal
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from edge_icl.cli import app
from tests.cli_process import edge_icl

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def test_bundle_writes_the_page_and_prints_where(viewer_runs, tmp_path):
    result = runner.invoke(app, ["view", str(viewer_runs["root"]), "--bundle", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "index.html").is_file()
    assert f"open: {(tmp_path / 'site' / 'index.html').resolve().as_uri()}" in result.stdout
    assert "8 runs in 5 folders" in result.stdout  # icl, variant, oracle, random, and a bench of 2 policies x 2 seeds


def test_bad_runs_dir_or_bundle_folder_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["view", str(tmp_path / "nope"), "--bundle", str(tmp_path / "site")])
    assert result.exit_code == 2 and "is not a folder" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "runs").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    result = runner.invoke(app, ["view", str(tmp_path / "runs"), "--bundle", str(tmp_path / "full")])
    assert result.exit_code == 2 and "not empty" in result.stderr and (tmp_path / "full" / "keep.txt").exists()


def test_serve_prints_a_local_url_that_answers(viewer_runs):
    process = edge_icl("view", str(viewer_runs["root"]), "--no-browser", cwd=ROOT)
    try:
        line = process.stdout.readline()
        assert line.startswith("serving ") and "http://127.0.0.1:" in line
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "data/index.js", timeout=10) as response:
            assert viewer_runs["icl"].name.encode() in response.read()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0
