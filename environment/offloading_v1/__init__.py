"""Offloading-v1: the edge-cloud offloading decision with an edge queue, a moving cloud,
overlapping quality and the uplink, so the best decision is not a lookup table: config,
formulas, the serving profile, the edge server, the cloud chains, the world, the env and
the task (the `DecisionTask` text face)."""

from environment.offloading_v1.config import OffloadingV1Config, load_offloading_v1_config, offloading_v1_config
from environment.offloading_v1.env import DECISIONS, NUMERIC_FEATURES, OffloadingV1Env
from environment.offloading_v1.task import OffloadingV1Task, best_lookup_accuracy, oracle_offload_share_by_service
from environment.offloading_v1.world import LOCAL, OFFLOAD, OutcomeV1, RequestV1

__all__ = [
    "DECISIONS",
    "LOCAL",
    "NUMERIC_FEATURES",
    "OFFLOAD",
    "OffloadingV1Config",
    "OffloadingV1Env",
    "OffloadingV1Task",
    "OutcomeV1",
    "RequestV1",
    "best_lookup_accuracy",
    "load_offloading_v1_config",
    "offloading_v1_config",
    "oracle_offload_share_by_service",
]
