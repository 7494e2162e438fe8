"""The ICL agent's settings as command-line options, made from their one declaration.

`AgentSettings` (agent/settings.py) and each backend's options model declare every
setting once, with its type, default and help; `with_agent_options` turns them into
typer options of a command (`edge-icl run`, `edge-icl bench offloading`, ...), and
`agent_settings` validates what the user gave back into `AgentSettings`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, get_args, get_origin

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agent.backends.registry import backend_option_fields
from agent.settings import AgentSettings
from environment.config import ConfigError, validate

Command = TypeVar("Command", bound=Callable[..., Any])
# Settings a command line does not set one by one (the backend's options are flags of their own).
NOT_FLAGS = ("backend_options",)


def flag(name: str, field: FieldInfo) -> str:
    """The option's name: the field's, with dashes (or the one its `json_schema_extra` names)."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return str(extra.get("flag") or "--" + name.replace("_", "-"))


def _cli_type(annotation: Any) -> Any:
    """The type typer parses: a Literal's values as str, an optional X as X."""
    origin = get_origin(annotation)
    if origin is not None and str(origin) == "typing.Literal":
        return str
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and type(None) in get_args(annotation):
        return _cli_type(args[0])
    return annotation


def _parameter(name: str, field: FieldInfo, default: Any, help_prefix: str = "") -> inspect.Parameter:
    annotation = _cli_type(field.annotation)
    declaration = flag(name, field)
    if annotation is bool:
        declaration = f"{declaration}/--no-{declaration[2:]}"
    option = typer.Option(default, declaration, help=help_prefix + (field.description or ""), rich_help_panel="ICL agent")
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation if default is not None else annotation | None)


def agent_parameters() -> list[inspect.Parameter]:
    """One typer option per agent setting, then one per backend option (None: the backend's own default)."""
    parameters = [_parameter(name, field, field.get_default(call_default_factory=True)) for name, field in AgentSettings.model_fields.items() if name not in NOT_FLAGS]
    for name, (field, owners) in backend_option_fields().items():
        parameters.append(_parameter(name, field, None, help_prefix=f"[{', '.join(owners)}] "))
    return parameters


def with_agent_options(command: Command) -> Command:
    """Give a typer command (one that takes `**agent_options`) every agent and backend option."""
    signature = inspect.signature(command)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    command.__signature__ = signature.replace(parameters=[*own, *agent_parameters()])  # type: ignore[attr-defined]
    return command


def agent_settings(options: dict[str, Any], **overrides: Any) -> AgentSettings:
    """`AgentSettings` from a command's agent options; ConfigError (one line) on bad values.

    The backend options the user set (not None) go to `backend_options`, where the chosen
    backend's options model checks them when the backend is built.
    """
    agent_fields = set(AgentSettings.model_fields) - set(NOT_FLAGS)
    backend_options = {k: v for k, v in options.items() if k not in agent_fields and v is not None}
    values = {k: v for k, v in options.items() if k in agent_fields}
    return validate(AgentSettings, {**values, "backend_options": backend_options, **overrides}, "agent settings")


def model_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """A settings model's defaults (for docs and tests)."""
    return {name: field.get_default(call_default_factory=True) for name, field in model.model_fields.items()}


__all__ = ["ConfigError", "agent_parameters", "agent_settings", "flag", "model_defaults", "with_agent_options"]
