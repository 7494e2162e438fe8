"""DQN baseline for the offloading problems (baseline 3 of Zhou et al., section III-C).

Offloading-v0: state eq. (8) (the environment's MultiDiscrete observation, one-hot
encoded by stable-baselines3), action local/offload, reward eq. (10). Offloading-v1: the
env's numeric features (a Box) and its priced reward. Trained with stable-baselines3's
DQN on the CPU, online, on the same seeded request stream every other policy meets: the
environment is reset with the run seed and, like `run_policy`, reset without a seed when
an episode is truncated, so step t is the same request.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from pydantic import Field

from environment.config import StrictConfig
from environment.offloading import OffloadingEnvConfig
from environment.offloading import OffloadingEnv


class DQNConfig(StrictConfig):
    """DQN hyper-parameters (stable-baselines3 names). The paper gives none; ours are below.

    gamma defaults to 0: the next request does not depend on the decision (a contextual
    bandit), so discounting future rewards only adds variance; set it to study DRL as
    the paper frames it.
    """

    learning_rate: float = Field(1e-3, gt=0)
    buffer_size: int = Field(10_000, gt=0)
    learning_starts: int = Field(32, ge=0)
    batch_size: int = Field(32, gt=0)
    gamma: float = Field(0.0, ge=0, le=1)
    train_freq: int = Field(1, gt=0)
    gradient_steps: int = Field(1, gt=0)
    target_update_interval: int = Field(50, gt=0)
    exploration_fraction: float = Field(0.3, gt=0, le=1)
    exploration_initial_eps: float = Field(1.0, ge=0, le=1)
    exploration_final_eps: float = Field(0.02, ge=0, le=1)
    net_arch: list[int] = Field(default_factory=lambda: [64, 64])


def _require_sb3() -> Any:
    try:
        import stable_baselines3
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError("the DQN baseline needs stable-baselines3: pip install 'edge-icl[drl]'") from error
    return stable_baselines3


class DQNPolicy:
    """A trained DQN as a `Policy` of the offloading env (greedy: argmax of its Q-values).

    Parameters
    ----------
    model: a stable-baselines3 `DQN` trained on an offloading env.
    """

    name = "dqn"

    def __init__(self, model: Any) -> None:
        self.model = model

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> int:
        action, _ = self.model.predict(observation, deterministic=True)
        return int(action)

    def observe(self, observation: np.ndarray, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        return None

    def save(self, path: str | Path) -> None:
        """Save the model (stable-baselines3 zip)."""
        self.model.save(str(path))

    @classmethod
    def load(cls, path: str | Path) -> "DQNPolicy":
        """Load a model saved by `save`."""
        return cls(_require_sb3().DQN.load(str(path), device="cpu"))


StepInfoCallback = Callable[[int, int, float, dict[str, Any]], None]


def train_dqn(
    world: OffloadingEnvConfig | gym.Env,
    seed: int,
    steps: int,
    config: DQNConfig | None = None,
    on_step: StepInfoCallback | None = None,
) -> DQNPolicy:
    """Train DQN online for `steps` requests of the stream seeded by `seed`.

    `world` is the environment to learn on (any env with a Box observation and Discrete
    actions: the offloading envs, Association-v0), or an `OffloadingEnvConfig`, which
    stands for `OffloadingEnv(world)`.
    `on_step(step, action, reward, step_info)` sees every training step, so the online
    learning curve is recorded on the same stream as every other policy's run.
    """
    sb3 = _require_sb3()
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    config = config or DQNConfig()
    torch.set_num_threads(1)

    class _Recorder(BaseCallback):
        def _on_step(self) -> bool:
            if on_step is not None:
                info = dict(self.locals["infos"][0])
                on_step(self.num_timesteps - 1, int(self.locals["actions"][0]), float(self.locals["rewards"][0]), info)
            return True

    env = OffloadingEnv(world) if isinstance(world, OffloadingEnvConfig) else world
    params = config.model_dump()
    net_arch = params.pop("net_arch")
    model = sb3.DQN(
        "MlpPolicy",
        env,
        seed=seed,
        device="cpu",
        policy_kwargs={"net_arch": net_arch},
        verbose=0,
        **params,
    )
    model.learn(total_timesteps=steps, callback=_Recorder(), progress_bar=False)
    return DQNPolicy(model)
