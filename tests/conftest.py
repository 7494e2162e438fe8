"""Shared fixtures.

- `own_llm_cache` (every test): its own LLM call cache, so that no test answers from calls
  another test or an earlier run stored. `EDGE_ICL_CACHE` points at a fresh folder per
  test; the model copies of the real cache folder (the F16 GGUF made once by the
  llama-cpp backend) are linked into it, so they are not made again.
- `viewer_runs`: run folders made once per session by the real commands (two short ICL
  runs on the bundled model, a prompt variant, reference policies, a bench) for the
  viewer's tests (test_viewer_*.py), with a call cache of their own too.
"""

import os
from pathlib import Path

import pytest

from tests.viewer_runs import make_bench, make_run, variant_prompt

REAL_CACHE = Path(os.environ.get("EDGE_ICL_CACHE") or Path.home() / ".cache" / "edge-icl")


@pytest.fixture(scope="session")
def model_copies() -> list[Path]:
    """The model files of the real cache folder, the bundled model's F16 copy made first if missing."""
    try:
        from agent.backends.bundled_model import bundled_model_path
        from agent.backends.llama_cpp import f16_copy

        f16_copy(bundled_model_path())
    except Exception:  # noqa: BLE001  no llama.cpp or model here: the tests that need them say so themselves
        pass
    return sorted(REAL_CACHE.glob("*.gguf"))


def fresh_cache(tmp_path_factory, model_copies: list[Path]) -> Path:
    """An empty cache folder with the model copies linked in."""
    folder = tmp_path_factory.mktemp("edge-icl-cache")
    for model in model_copies:
        (folder / model.name).symlink_to(model)
    return folder


@pytest.fixture(autouse=True)
def own_llm_cache(tmp_path_factory, monkeypatch, model_copies) -> Path:
    folder = fresh_cache(tmp_path_factory, model_copies)
    monkeypatch.setenv("EDGE_ICL_CACHE", str(folder))
    return folder


@pytest.fixture(scope="session")
def viewer_runs(tmp_path_factory, model_copies):
    root = tmp_path_factory.mktemp("runs")
    variant = variant_prompt(tmp_path_factory.mktemp("prompts"))
    with pytest.MonkeyPatch.context() as patch:  # set up before any test's own cache
        patch.setenv("EDGE_ICL_CACHE", str(fresh_cache(tmp_path_factory, model_copies)))
        return {
            "root": root,
            "icl": make_run(root, "--steps", "10", "--seed", "2"),
            "variant": make_run(root, "--steps", "10", "--seed", "2", "--prompt", str(variant), "--decision-mode", "generate"),
            "oracle": make_run(root / "nested" / "deeper", "--policy", "oracle", "--steps", "10", "--seed", "2"),
            "random": make_run(root, "--policy", "random", "--steps", "10", "--seed", "2"),
            "bench": make_bench(root, "--policies", "oracle,random", "--steps", "10", "--seeds", "2", "--seed", "4"),
            "variant_folder": variant,
        }
