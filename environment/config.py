"""Validated configuration of the shared world, and the one way every config is validated.

The world (radio cell, request stream) follows Zhou et al. (papers/icl-task-offloading.txt)
section IV-A where the paper gives a value; every other default says where it comes
from. Each decision problem keeps its own config in its package and validates it with
`validate`. Unknown fields are rejected, so a typo in a YAML file is an error, not a
silently ignored setting; numbers must be finite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# Upper bounds shared by every config field and command-line flag that counts them, so
# that no size a user gives can exhaust the machine this project is run on (2 cores,
# 24 GB) before a step is taken; scripts/measure_bounds.py measures what a run at each
# bound costs. Why these values:
# - MAX_STEPS, the decisions of one run (its `steps.csv` rows, kept in memory for the
#   summary at about 0.75 kB each), 250 x the ICL paper's 400 steps: the oracle's run
#   peaks at 214 MB in 65 s; the ICL agent at 0.1-1 s a decision takes hours for it.
MAX_STEPS = 100_000
# - MAX_SEEDS, the seeds of a bench or sweep: each one repeats every policy's run; 33 x
#   the 3 seeds of the paper figures.
MAX_SEEDS = 100
# - MAX_TOTAL_STEPS, the steps of every policy x seed of a bench (held in memory until
#   its summary: 7.5 GB of rows at 0.75 kB) or every cell of a sweep (steps.csv on disk,
#   about 200 B an offloading row: 2 GB).
MAX_TOTAL_STEPS = 10_000_000


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is one line naming the field."""


class StrictConfig(BaseModel):
    """Base of every config: unknown fields are rejected, values are frozen, numbers are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Config = TypeVar("Config", bound=BaseModel)


class RadioConfig(StrictConfig):
    """The cell and its downlink (ICL paper II-A)."""

    # ICL IV-A: "20 users are randomly distributed in a cell based on 3GPP urban networks".
    # At most 10,000 (500 x the paper's): each step draws fading for users x 6 interferers
    # x RBs (scripts/measure_bounds.py: 134 ms a step, 215 MB; with 275 RBs, 1 s, 541 MB).
    n_users: int = Field(20, gt=0, le=10_000)
    # 3GPP TR 36.814 urban macro: inter-site distance 500 m; the hexagonal cell's
    # inscribed radius is 250 m, users are dropped uniformly on the disc of that radius.
    cell_radius_m: float = Field(250.0, gt=0)
    # 3GPP TR 36.814: minimum BS-UE distance 35 m in urban macro.
    min_distance_m: float = Field(35.0, ge=0)
    inter_site_distance_m: float = Field(500.0, gt=0)
    # First tier of interfering cells around the serving cell (hexagonal layout).
    n_interfering_bs: int = Field(6, ge=0, le=6)
    # LTE 10 MHz: 50 resource blocks of 180 kHz. At most 275, the most of one 5G NR
    # carrier (3GPP TS 38.101-1 Table 5.3.2-1); the fading draws of a step scale with it.
    n_resource_blocks: int = Field(50, gt=0, le=275)
    rb_bandwidth_hz: float = Field(180e3, gt=0)
    # 3GPP TR 36.814 macro BS: 46 dBm over the carrier, spread evenly over the RBs.
    bs_power_dbm: float = 46.0
    # Thermal noise density at room temperature.
    noise_density_dbm_hz: float = -174.0
    # Proportional-fair averaging window t_c in scheduling intervals (a common choice).
    pf_window: float = Field(100.0, gt=1)

    @model_validator(mode="after")
    def _geometry(self) -> "RadioConfig":
        if self.min_distance_m >= self.cell_radius_m:
            raise ValueError(f"min_distance_m ({self.min_distance_m}) must be below cell_radius_m ({self.cell_radius_m}): no room to drop users")
        if self.inter_site_distance_m <= self.cell_radius_m:
            raise ValueError(f"inter_site_distance_m ({self.inter_site_distance_m}) must exceed cell_radius_m ({self.cell_radius_m}): interferers would sit inside the cell")
        return self


class ServiceType(StrictConfig):
    """One generation service (keyword 1 of eq. 8) and what its requests look like."""

    name: str
    task_class: str = Field(pattern="^(regular|quality-preferred)$")
    # Mean output tokens of this service; across the default services the mean is
    # 1,000 tokens (ICL IV-A "The average output size is 1,000 tokens").
    mean_tokens: float = Field(gt=0)
    # Required quality index tau_{k,i} ~ U[low, high] of constraint (4e).
    quality_low: float = Field(ge=0, le=1)
    quality_high: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> "ServiceType":
        if self.quality_low > self.quality_high:
            raise ValueError("quality_low must be <= quality_high")
        return self


def _default_services() -> list[ServiceType]:
    # ICL IV-A: regular tasks (chatting, translation) and quality-preferred tasks
    # (reasoning, knowledge). Requirements are MMLU-scale indices (see llm_profiles.yaml):
    # regular tasks are met by every edge model of the catalogue, quality-preferred
    # tasks by the default cloud model (GPT-4o, 0.887) but not the default edge model
    # (Llama3-8B, 0.684). Per-service token means are ours; their average is 1,000.
    return [
        ServiceType(name="chatting", task_class="regular", mean_tokens=600, quality_low=0.30, quality_high=0.45),
        ServiceType(name="translation", task_class="regular", mean_tokens=800, quality_low=0.30, quality_high=0.45),
        ServiceType(name="reasoning", task_class="quality-preferred", mean_tokens=1400, quality_low=0.70, quality_high=0.85),
        ServiceType(name="knowledge", task_class="quality-preferred", mean_tokens=1200, quality_low=0.70, quality_high=0.85),
    ]


class TaskConfig(StrictConfig):
    """The request stream: which services, how long their outputs are."""

    # At most 100 services: each is a keyword value the prompt and the pool tell apart.
    services: list[ServiceType] = Field(default_factory=_default_services, min_length=1, max_length=100)
    # Share of requests that are quality-preferred (Fig. 4(f) sweeps it); 0.5 = the two
    # classes equally often.
    quality_preferred_share: float = Field(0.5, ge=0, le=1)
    # Output tokens ~ Gamma(shape, mean/shape): coefficient of variation 1/sqrt(shape).
    token_gamma_shape: float = Field(8.0, gt=0)
    # ICL IV-A: "each token corresponds to about 4 bytes" (OpenAI).
    token_bytes: float = Field(4.0, gt=0)
    # Keyword 2 of eq. (8), "estimated output token size", is given to the decision
    # maker binned at these edges (tokens); names one per level. At most 100 levels, as
    # services: keyword values of the prompt.
    token_level_edges: list[float] = Field(default_factory=lambda: [500.0, 1500.0, 2500.0], max_length=100)
    token_level_names: list[str] = Field(default_factory=lambda: ["short", "medium", "long", "very long"], max_length=101)

    @model_validator(mode="after")
    def _consistent(self) -> "TaskConfig":
        if len(self.token_level_names) != len(self.token_level_edges) + 1:
            raise ValueError("token_level_names needs one name more than token_level_edges has edges")
        if sorted(self.token_level_edges) != list(self.token_level_edges):
            raise ValueError("token_level_edges must be increasing")
        classes = {s.task_class for s in self.services}
        if 0 < self.quality_preferred_share < 1 and classes != {"regular", "quality-preferred"}:
            raise ValueError("services need both a regular and a quality-preferred service when the share is in (0, 1)")
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError("service names must be unique")
        return self


class WorldConfig(StrictConfig):
    """The shared world every problem built on the radio cell starts from: its radio and its request stream."""

    radio: RadioConfig = Field(default_factory=RadioConfig)
    tasks: TaskConfig = Field(default_factory=TaskConfig)


def one_line(error: ValidationError) -> str:
    """The first problem of a pydantic error as `field.path: message`."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "config"
    return f"{field}: {first['msg']}"


def validate(model: type[Config], data: dict[str, Any] | None, what: str = "config") -> Config:
    """Validate a mapping into `model`; raise ConfigError with one line naming the field.

    The one validate-or-ConfigError wrapper of every config in the project.
    """
    try:
        return model.model_validate(data or {})
    except ValidationError as error:
        raise ConfigError(f"invalid {what}: {one_line(error)}") from None


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader that rejects a key given twice in one mapping.

    PyYAML keeps the last value of a repeated key without a word, so `n_users: 10` and a
    forgotten `n_users: 30` further down would run 30. A merge (`<<: *base`) may still
    be overridden by the mapping's own keys, as YAML means it.
    """


def _unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            line = first_line.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:  # an unhashable key: the safe constructor reports it
            continue
        if line != key_node.start_mark.line + 1:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} at line {key_node.start_mark.line + 1} (first at line {line})", key_node.start_mark
            )
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_yaml(text: str) -> Any:
    """The YAML document in `text`, read safely; a key given twice is a yaml.YAMLError.

    The one YAML reader of the project: every file a user gives (configs, sweep specs)
    and every file it wrote itself goes through it.
    """
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error as one line: what is wrong and where (PyYAML spreads it over several)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        mark = error.problem_mark
        return f"{error.problem}" + (f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None and "line" not in error.problem else "")
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def not_utf8(path: str | Path, error: UnicodeDecodeError) -> str:
    """One line saying that the file at `path` is not UTF-8 text, and where it stops being so."""
    return f"{path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start})"


def read_yaml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The mapping in a YAML file a user gives (`what` names it in errors: config, market config, ...).

    ConfigError (one line naming the file) when it is unreadable, not UTF-8, not YAML,
    holds a key twice, or is not a mapping.
    """
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} {not_utf8(path, error)}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {path} is not valid YAML: {yaml_problem(error)}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping of sections, got {type(data).__name__}")
    return data or {}
