"""The shared simulated edge-cloud world and the decision problems built on it.

Importing this package registers the Gymnasium environments (`EdgeICL/<Name>-v0`).
"""

from gymnasium.envs.registration import register, registry

from environment.config import ConfigError, ScenarioConfig, load_config, scenario_config
from environment.inference import LLMProfile, edge_cloud_pairs, generation_time, llm_catalogue, llm_profile
from environment.offloading import DECISIONS, OffloadingEnv, Outcome, evaluate_decision
from environment.scenario import Request, Scenario

if "EdgeICL/Offloading-v0" not in registry:
    register(id="EdgeICL/Offloading-v0", entry_point="environment.offloading:OffloadingEnv")
if "EdgeICL/Market-v0" not in registry:
    register(id="EdgeICL/Market-v0", entry_point="environment.market.env:MarketEnv")

__all__ = [
    "DECISIONS",
    "ConfigError",
    "LLMProfile",
    "OffloadingEnv",
    "Outcome",
    "Request",
    "Scenario",
    "ScenarioConfig",
    "edge_cloud_pairs",
    "evaluate_decision",
    "generation_time",
    "llm_catalogue",
    "llm_profile",
    "load_config",
    "scenario_config",
]
