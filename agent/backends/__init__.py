"""LLM backends behind one protocol (`agent.backends.base.LLMBackend`); each module registers itself (see registry)."""

from agent.backends.base import BackendError, BackendUnavailable, Completion, LLMBackend, Message, Scores
from agent.backends.registry import BACKENDS, BackendSpec, backend_status, load_backends, make_backend, register_backend

__all__ = [
    "BACKENDS",
    "BackendError",
    "BackendSpec",
    "BackendUnavailable",
    "Completion",
    "LLMBackend",
    "Message",
    "Scores",
    "backend_status",
    "load_backends",
    "make_backend",
    "register_backend",
]
