"""Shared fixtures. `viewer_runs`: run folders made once per session by the real commands
(two short ICL runs on the bundled model, a prompt variant, reference policies, a bench)
for the viewer's tests (test_viewer_*.py)."""

import pytest

from tests.viewer_runs import make_bench, make_run, variant_prompt


@pytest.fixture(scope="session")
def viewer_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    variant = variant_prompt(tmp_path_factory.mktemp("prompts"))
    return {
        "root": root,
        "icl": make_run(root, "--steps", "10", "--seed", "2"),
        "variant": make_run(root, "--steps", "10", "--seed", "2", "--prompt", str(variant), "--decision-mode", "generate"),
        "oracle": make_run(root / "nested" / "deeper", "--policy", "oracle", "--steps", "10", "--seed", "2"),
        "random": make_run(root, "--policy", "random", "--steps", "10", "--seed", "2"),
        "bench": make_bench(root, "--policies", "oracle,random", "--steps", "10", "--seeds", "2", "--seed", "4"),
        "variant_folder": variant,
    }
