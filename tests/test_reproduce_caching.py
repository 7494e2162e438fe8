"""Smoke run of scripts/reproduce_caching.py: every CSV and PNG of Figs. 3-4."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_caching.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("reproduce_caching", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_horizons_are_ten_steps_to_the_end(script):
    assert script.horizons(100) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert script.horizons(4) == [1, 2, 3, 4]


def test_reproduce_writes_every_figure(script, tmp_path):
    script.main(runs=2, quick=False, seed=0, slots=4, out=tmp_path)
    (folder,) = tmp_path.iterdir()
    for name in ("fig3a", "fig3b", "fig3c", "fig3d", "fig4a", "fig4b"):
        assert (folder / f"{name}.png").stat().st_size > 0
    with open(folder / "fig3c.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(script.SWEEPS["fig3c"][2]) * len(script.POLICIES)
    assert all(float(r["vs_fifo_pct"]) == 0.0 for r in rows if r["policy"] == "fifo")
