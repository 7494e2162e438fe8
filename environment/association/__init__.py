"""User-LLM association at the edge (Picano, Buratto and Badia): config, formulas, problem."""

from environment.association.config import (
    MAX_NODES,
    AssociationConfig,
    AssociationEnvConfig,
    OnlineAssociationConfig,
    association_config,
    association_env_config,
)
from environment.association.formulas import (
    LLM_TYPES,
    UNSERVED,
    residual_storage,
    inference_delay,
    e2e_delay,
    communication_delay,
    queueing_delay,
    mean_e2e_objective,
    placement_reward,
)
from environment.association.problem import (
    Assignment,
    AssociationInstance,
    AssociationOutcome,
    check_feasible,
    evaluate,
    generate_instance,
)
from environment.association.env import DROP, AssociationEnv, node_label
from environment.association.task import AssociationTask
