"""Each test gets its own LLM call cache, so that no test answers from calls another test or an earlier run stored.

`EDGE_ICL_CACHE` points at a fresh folder per test; the model copies of the real cache
folder (the F16 GGUF made once by the llama-cpp backend) are linked into it, so they are
not made again.
"""

import os
from pathlib import Path

import pytest

REAL_CACHE = Path(os.environ.get("EDGE_ICL_CACHE") or Path.home() / ".cache" / "edge-icl")


@pytest.fixture(scope="session")
def model_copies() -> list[Path]:
    """The model files of the real cache folder, the bundled model's F16 copy made first if missing."""
    try:
        from agent.backends.llama_cpp import bundled_model_path, f16_copy

        f16_copy(bundled_model_path())
    except Exception:  # noqa: BLE001  no llama.cpp or model here: the tests that need them say so themselves
        pass
    return sorted(REAL_CACHE.glob("*.gguf"))


@pytest.fixture(autouse=True)
def own_llm_cache(tmp_path_factory, monkeypatch, model_copies) -> Path:
    folder = tmp_path_factory.mktemp("edge-icl-cache")
    for model in model_copies:
        (folder / model.name).symlink_to(model)
    monkeypatch.setenv("EDGE_ICL_CACHE", str(folder))
    return folder
