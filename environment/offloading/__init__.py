"""Edge-vs-cloud generation task offloading (Zhou et al., papers/icl-task-offloading.txt): config, formulas, env, task."""

from environment.offloading.config import OffloadingConfig, OffloadingEnvConfig, load_offloading_env_config, offloading_env_config
from environment.offloading.env import DECISIONS, LOCAL, OFFLOAD, OffloadingEnv, Outcome, evaluate_decision
from environment.offloading.task import OffloadingTask

__all__ = [
    "DECISIONS",
    "LOCAL",
    "OFFLOAD",
    "OffloadingConfig",
    "OffloadingEnv",
    "OffloadingEnvConfig",
    "OffloadingTask",
    "Outcome",
    "evaluate_decision",
    "load_offloading_env_config",
    "offloading_env_config",
]
