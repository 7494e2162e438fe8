"""The backends by name: each registers itself, with its own options model, builder and check.

A backend module (any module in `agent/backends/`, or a plugin's module named by the
entry-point group `edge_icl.backends`) decorates its builder:

    class MyOptions(StrictConfig):
        model: str = Field("my-model", description="...")

    @register_backend("my-llm", MyOptions, "what it is", check=lambda: None)
    def build(options: MyOptions, seed: int) -> LLMBackend: ...

and nothing else changes: `edge-icl backends` lists it, `--backend my-llm` builds it, and
its options become command-line flags (in the manner of simonw/llm plugins).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agent.backends.base import BackendUnavailable, LLMBackend
from environment.config import ConfigError, validate

ENTRY_POINT_GROUP = "edge_icl.backends"


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: its options model, its builder, a check that says why it is unusable, a line of help."""

    name: str
    options: type[BaseModel]
    build: Callable[[Any, int], LLMBackend]
    check: Callable[[], str | None]
    description: str


BACKENDS: dict[str, BackendSpec] = {}


def register_backend(
    name: str, options: type[BaseModel], description: str, check: Callable[[], str | None] = lambda: None
) -> Callable[[Callable[[Any, int], LLMBackend]], Callable[[Any, int], LLMBackend]]:
    """Decorator: register `build(options, seed) -> LLMBackend` as backend `name`."""

    def decorator(build: Callable[[Any, int], LLMBackend]) -> Callable[[Any, int], LLMBackend]:
        BACKENDS[name] = BackendSpec(name, options, build, check, description)
        return build

    return decorator


@cache
def load_backends() -> dict[str, BackendSpec]:
    """Import every backend module (this package's, then plugins' entry points) so that each registers itself."""
    package = importlib.import_module("agent.backends")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in ("base", "registry", "chat_template") and not module.name.startswith("_"):
            importlib.import_module(f"agent.backends.{module.name}")
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        entry_point.load()
    return BACKENDS


def missing_modules(*modules: str) -> list[str]:
    """The modules of `modules` that are not installed (for a backend's check)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def backend_spec(name: str) -> BackendSpec:
    """The registered backend `name`; BackendUnavailable naming the known ones otherwise."""
    backends = load_backends()
    if name not in backends:
        raise BackendUnavailable(f"--backend: unknown backend {name!r}; choose one of {', '.join(backends)}")
    return backends[name]


def backend_options(name: str, options: dict[str, Any] | None = None) -> BaseModel:
    """Validate `options` with backend `name`'s options model (an option of another backend is an error)."""
    spec = backend_spec(name)
    options = dict(options or {})
    foreign = [key for key in options if key not in spec.options.model_fields]
    if foreign:
        flags = ", ".join("--" + key.replace("_", "-") for key in foreign)
        own = ", ".join("--" + key.replace("_", "-") for key in spec.options.model_fields) or "none"
        raise BackendUnavailable(f"{flags}: not an option of backend {name} (its options: {own})")
    try:
        return validate(spec.options, options, f"{name} backend options")
    except ConfigError as error:
        raise BackendUnavailable(str(error)) from None


def make_backend(name: str, options: dict[str, Any] | None = None, seed: int = 0) -> LLMBackend:
    """Build backend `name` with `options`; unknown names, bad options and unusable backends raise BackendUnavailable."""
    return backend_spec(name).build(backend_options(name, options), seed)


def backend_status() -> dict[str, str | None]:
    """Each backend's reason for being unusable here, None when it is usable."""
    return {name: spec.check() for name, spec in load_backends().items()}


def backend_option_fields() -> dict[str, tuple[FieldInfo, list[str]]]:
    """Every backend option by name, with the backends that take it (the first declaration gives type and help)."""
    fields: dict[str, tuple[FieldInfo, list[str]]] = {}
    for name, spec in load_backends().items():
        for option, field in spec.options.model_fields.items():
            fields.setdefault(option, (field, []))[1].append(name)
    return fields
