"""LLM backends behind one protocol (`agent.backends.base.LLMBackend`): llama-cpp, openai, transformers, langchain."""

from agent.backends.base import BackendError, BackendUnavailable, Completion, LLMBackend, Message, Scores
from agent.backends.registry import BACKENDS, BackendOptions, BackendSpec, backend_status, make_backend, register_backend

__all__ = [
    "BACKENDS",
    "BackendError",
    "BackendOptions",
    "BackendSpec",
    "BackendUnavailable",
    "Completion",
    "LLMBackend",
    "Message",
    "Scores",
    "backend_status",
    "make_backend",
    "register_backend",
]
