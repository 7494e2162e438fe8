"""DQN on `EdgeICL/Association-v0` (stable-baselines3), with an invalid-action penalty.

Plain SB3 `DQN` has no action masks: it may pick a node of another type or a full one;
the env then drops the user and charges `online.invalid_action_penalty_ms` on top of
the drop penalty, and DQN learns to avoid such actions from that reward (the
invalid-action penalty, not masking; sb3-contrib's MaskablePPO would read the env's
`action_masks()` instead). Observation: the env's Box (every node's legality, queue,
link, inference time and storage for the arriving user, and the user's type, tokens,
deadline and storage). It learns online on the same seeded instance stream every other
policy of the bench meets: SB3 resets the env with the run seed, then without a seed
at each episode's end, so episode k is instance k.
"""

from __future__ import annotations

from environment.association import AssociationEnv, AssociationEnvConfig
from solvers.dqn import DQNConfig, DQNPolicy, StepInfoCallback, train_dqn

# Ours: placements shape what later users find (storage, queues), so future rewards count.
ASSOCIATION_DQN = DQNConfig(gamma=0.9, exploration_fraction=0.3, learning_starts=64)


def train_association_dqn(
    env_config: AssociationEnvConfig, seed: int, steps: int, config: DQNConfig = ASSOCIATION_DQN, on_step: StepInfoCallback | None = None
) -> DQNPolicy:
    """Train DQN online for `steps` arriving users of the stream seeded by `seed`; `on_step(step, action, reward, step_info)` sees each."""
    return train_dqn(AssociationEnv(env_config), seed, steps, config, on_step)
