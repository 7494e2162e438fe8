"""The section V setting of Picano et al. (papers/inference-aware-matching.txt) as a validated config."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from environment.config import StrictConfig, validate

# Nodes the online problem can label (A to Z): the prompt names a node by one letter.
MAX_NODES = 26
# Upper bounds of an instance, far above section V's (13-17 nodes, 95-105 users) and its
# figures' sweeps (scripts/reproduce_matching.py: up to 27 nodes, 145 users): every
# solver works on the nodes x users delays, the matchings iterate over the users.
NodeCount = Annotated[int, Field(le=200)]
UserCount = Annotated[int, Field(le=2_000)]


class AssociationConfig(StrictConfig):
    """The section V setting of Picano et al.; every range is [low, high] (integers: inclusive).

    Unknown fields are rejected. Build from a mapping with `association_config`.
    """

    # V: "a number of edge node uniformly distributed within the interval [13, 17]".
    n_nodes: tuple[NodeCount, NodeCount] = (13, 17)
    # V: "an integer number of users between 95 and 105 with uniform distribution".
    n_users: tuple[UserCount, UserCount] = (95, 105)
    # V: "uniformly drawing a number from 1 to 3" (text-to-text, -audio, -image).
    # At most 100 types (section V: 1 to 3), as every count of an instance is bounded.
    n_llm_types: int = Field(3, ge=1, le=100)
    # V: "the number of tokens per user was generated between 240 and 248" (gamma_u = tau_u).
    tokens: tuple[int, int] = (240, 248)
    # V: "d_u is assumed to be uniformly distributed within the interval [1, 3.5]" (ms).
    deadline_ms: tuple[float, float] = (1.0, 3.5)
    # V: "s_u and Delta_e were uniformly distributed in [1.1, 3.1] and [3.3, 5.5]".
    user_storage: tuple[float, float] = (1.1, 3.1)
    node_storage: tuple[float, float] = (3.3, 5.5)
    # V: "iota_e was randomly selected within [0.01, 0.03] ms".
    inter_token_ms: tuple[float, float] = (0.01, 0.03)
    # V: "C_{e,u} in [0.60, 0.80] ms", drawn per (node, user) pair.
    comm_delay_ms: tuple[float, float] = (0.60, 0.80)

    @model_validator(mode="after")
    def _ranges(self) -> "AssociationConfig":
        for name in ("n_nodes", "n_users", "tokens", "deadline_ms", "user_storage", "node_storage", "inter_token_ms", "comm_delay_ms"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}: low {low} exceeds high {high}")
            # Positive times keep (2) > 0, on which the MILP's slot model relies.
            if low < 0 or (low == 0 and name != "comm_delay_ms"):
                raise ValueError(f"{name}: values must be positive, got low {low}")
        return self


def association_config(data: dict[str, Any] | None = None) -> AssociationConfig:
    """Validate a config mapping; raise ConfigError with a one-line message naming the field."""
    return validate(AssociationConfig, data, "association config")


class OnlineAssociationConfig(StrictConfig):
    """The sequential reading of the problem: users arrive one per step and are placed at once (ours).

    Rewards in the form of Zhou et al. eq. (10) (papers/icl-task-offloading.txt): minus
    the user's e2e delay (3), minus a penalty when it lands past its deadline d_u; a
    dropped user costs more than any placement at the section V ranges.
    """

    # Ours: the paper counts a late user as dropped (its Fig. 4-5 metric) but still
    # reports its delay; a penalty of the size of a deadline (1-3.5 ms) keeps both in view.
    late_penalty_ms: float = Field(5.0, ge=0)
    # Ours: above the e2e delay (3) of any served user at the section V ranges (2 x 0.8 +
    # 248 x 0.03 + a queue of 4 users of 7.44 ms = 38.8 ms) plus the late penalty.
    drop_penalty_ms: float = Field(50.0, ge=0)
    # Ours: an action outside info["action_mask"] (a node of another type, or full) drops
    # the user and costs this much more: the invalid-action penalty DQN learns from.
    invalid_action_penalty_ms: float = Field(10.0, ge=0)
    # Ours: the keyword levels the prompt shows split the section V ranges evenly; at most
    # 100 each, keyword values the prompt and the pool tell apart.
    token_levels: tuple[str, ...] = Field(("short", "long"), max_length=100)
    deadline_levels: tuple[str, ...] = Field(("tight", "medium", "loose"), max_length=100)


class AssociationEnvConfig(StrictConfig):
    """What `EdgeICL/Association-v0` is built from: the section V instances and the online reading."""

    instances: AssociationConfig = Field(default_factory=AssociationConfig)
    online: OnlineAssociationConfig = Field(default_factory=OnlineAssociationConfig)

    @model_validator(mode="after")
    def _labels(self) -> "AssociationEnvConfig":
        if self.instances.n_nodes[1] > MAX_NODES:
            raise ValueError(f"instances.n_nodes: at most {MAX_NODES} nodes (labelled A to Z), got {self.instances.n_nodes[1]}")
        if not self.online.token_levels or not self.online.deadline_levels:
            raise ValueError("online: token_levels and deadline_levels need at least one level each")
        return self


def association_env_config(data: dict[str, Any] | None = None) -> AssociationEnvConfig:
    """Validate a config mapping (sections instances, online); raise ConfigError with a one-line message naming the field."""
    return validate(AssociationEnvConfig, data, "association env config")
