"""Edge model caching with age of thought (papers/cached-model-least-aot.txt)."""

from environment.caching.config import CachedModel, CachingConfig, Service, caching_config, scaled_config
from environment.caching.env import CachingEnv, SlotRecord
from environment.caching.formulas import COST_PARTS, CostParts
from environment.caching.serving import schedule_costs, serving_tables
from environment.caching.task import CachingTask
from environment.caching.trace import RequestTrace, generate_trace

__all__ = [
    "COST_PARTS",
    "CachedModel",
    "CachingConfig",
    "CachingEnv",
    "CachingTask",
    "CostParts",
    "RequestTrace",
    "Service",
    "SlotRecord",
    "caching_config",
    "generate_trace",
    "scaled_config",
    "schedule_costs",
    "serving_tables",
]
