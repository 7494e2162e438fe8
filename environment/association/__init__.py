"""User-LLM association at the edge (Picano, Buratto and Badia): config, formulas, problem."""

from environment.association.config import AssociationConfig, association_config
from environment.association.formulas import (
    LLM_TYPES,
    UNSERVED,
    residual_storage,
    inference_delay,
    e2e_delay,
    communication_delay,
    queueing_delay,
    mean_e2e_objective,
)
from environment.association.problem import (
    Assignment,
    AssociationInstance,
    AssociationOutcome,
    check_feasible,
    evaluate,
    generate_instance,
)
