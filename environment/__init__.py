"""The shared simulated edge-cloud world and the decision problems built on it.

The world: `config` (validated configs), `radio`, `inference` (LLM profiles), `world`
(the seeded cell and its request stream). One package per decision problem
(`offloading`, `offloading_v1`, `association`, `adapter_training`, `caching`, `market`), each with its config, formulas,
env or problem, and task (the `DecisionTask` text face of `decision_task`).
Importing this package registers the Gymnasium environments (`EdgeICL/<Name>-v<N>`).
"""

from gymnasium.envs.registration import register, registry

from environment.config import ConfigError, WorldConfig
from environment.decision_task import Candidate, DecisionTask, Feedback
from environment.inference import LLMProfile, edge_cloud_pairs, generation_time, llm_catalogue, llm_profile
from environment.world import Request, Scenario

if "EdgeICL/Offloading-v0" not in registry:
    register(id="EdgeICL/Offloading-v0", entry_point="environment.offloading.env:OffloadingEnv")
if "EdgeICL/Offloading-v1" not in registry:
    register(id="EdgeICL/Offloading-v1", entry_point="environment.offloading_v1.env:OffloadingV1Env")
if "EdgeICL/Caching-v0" not in registry:
    register(id="EdgeICL/Caching-v0", entry_point="environment.caching.env:CachingEnv")
if "EdgeICL/Market-v0" not in registry:
    register(id="EdgeICL/Market-v0", entry_point="environment.market.env:MarketEnv")
if "EdgeICL/Association-v0" not in registry:
    register(id="EdgeICL/Association-v0", entry_point="environment.association.env:AssociationEnv")

__all__ = [
    "Candidate",
    "ConfigError",
    "DecisionTask",
    "Feedback",
    "LLMProfile",
    "Request",
    "Scenario",
    "WorldConfig",
    "edge_cloud_pairs",
    "generation_time",
    "llm_catalogue",
    "llm_profile",
]
