"""Configuration of the ``rl`` task (standard library only: ``mltasks info rl`` reads it cheaply).

Hyperparameters left at ``None`` (or 0) come from the per-environment table in
:mod:`mltasks_rl.hyperparams` (rl-baselines3-zoo's tuned values); any ``--set`` wins over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mltasks import TaskConfig
from mltasks.errors import ConfigError


@dataclass(frozen=True)
class RLConfig(TaskConfig):
    #: ``--quick``: 2,048 steps on one environment (a DummyVecEnv: fast and bit-for-bit reproducible),
    #: 5 evaluation episodes; every value you set yourself wins.
    quick_presets: ClassVar[dict[str, Any]] = {"timesteps": 2048, "n_envs": 1, "eval_episodes": 5}

    """Options of the ``rl`` task."""

    env: str = field(
        default="",
        metadata={"help": "gymnasium environment id (same as --data); empty: CartPole-v1"},
    )
    env_module: str = field(
        default="",
        metadata={"help": "a module to import before looking the id up (a third-party package that registers envs)"},
    )
    algo: Literal["ppo", "a2c", "dqn"] = field(
        default="ppo", metadata={"help": "stable-baselines3 algorithm (DQN needs a discrete action space)"}
    )
    timesteps: int = field(
        default=0, metadata={"help": "environment steps to train for; 0: the budget's default for the env"}
    )
    budget: Literal["cpu", "zoo"] = field(
        default="cpu",
        metadata={
            "help": "default training length when timesteps is 0: cpu caps it per env family at what a CPU "
            "user can wait for (minutes on 2 cores); zoo uses rl-baselines3-zoo's full n_timesteps"
        },
    )
    max_episode_steps: int = field(
        default=0,
        metadata={"help": "episode step limit; 0: the env's registered limit, or 1000 for an env without one"},
    )
    n_envs: int = field(
        default=0, metadata={"help": "parallel environments; 0: the tuned default (--quick presets 1)"}
    )
    vec_env: Literal["auto", "dummy", "subproc"] = field(
        default="auto",
        metadata={
            "help": "vectorisation: subproc runs envs in processes; auto uses subproc when n_envs > 1 except "
            "for classic-control games, whose steps are cheaper than the inter-process traffic"
        },
    )
    learning_rate: float | None = field(default=None, metadata={"help": "learning rate; none: tuned default"})
    lr_schedule: Literal["auto", "constant", "linear"] = field(
        default="auto", metadata={"help": "learning-rate schedule (linear decays to 0); auto: the tuned default"}
    )
    gamma: float | None = field(default=None, metadata={"help": "discount factor; none: tuned default"})
    n_steps: int | None = field(
        default=None, metadata={"help": "PPO/A2C rollout length per env; none: tuned default"}
    )
    batch_size: int | None = field(default=None, metadata={"help": "PPO/DQN minibatch size; none: tuned default"})
    n_epochs: int | None = field(default=None, metadata={"help": "PPO epochs per rollout; none: tuned default"})
    gae_lambda: float | None = field(default=None, metadata={"help": "PPO/A2C GAE lambda; none: tuned default"})
    ent_coef: float | None = field(default=None, metadata={"help": "PPO/A2C entropy coefficient; none: tuned default"})
    normalize: bool | None = field(
        default=None, metadata={"help": "VecNormalize observations and rewards; none: tuned default"}
    )
    net_arch: tuple[int, ...] = field(
        default=(), metadata={"help": "hidden layer sizes, e.g. 64,64; empty: tuned default or SB3's"}
    )
    eval_episodes: int = field(
        default=20, metadata={"help": "deterministic evaluation episodes (--quick presets 5)"}
    )
    report_points: int = field(
        default=20, metadata={"help": "how many times during training the mean Monitor return is reported"}
    )

    def __post_init__(self) -> None:
        positive = {"eval_episodes": self.eval_episodes, "report_points": self.report_points}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"config key {name!r}: must be at least 1, got {value}")
        for name in ("timesteps", "n_envs", "max_episode_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"config key {name!r}: must be >= 0 (0 means the default)")
        for name in ("n_steps", "batch_size", "n_epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"config key {name!r}: must be at least 1, got {value}")
        if self.gamma is not None and not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"config key 'gamma': must be in (0, 1], got {self.gamma}")
        if self.gae_lambda is not None and not 0.0 <= self.gae_lambda <= 1.0:
            raise ConfigError(f"config key 'gae_lambda': must be in [0, 1], got {self.gae_lambda}")
        if self.ent_coef is not None and not 0.0 <= self.ent_coef < math.inf:
            raise ConfigError(f"config key 'ent_coef': must be >= 0, got {self.ent_coef}")
        if self.learning_rate is not None and not 0.0 < self.learning_rate < math.inf:
            raise ConfigError(f"config key 'learning_rate': must be > 0, got {self.learning_rate}")
        if self.algo == "ppo" and self.batch_size == 1:  # SB3 normalises advantages over the minibatch
            raise ConfigError("config key 'batch_size': PPO needs minibatches of at least 2, got 1")
        if any(size < 1 for size in self.net_arch):
            raise ConfigError(f"config key 'net_arch': layer sizes must be positive, got {self.net_arch}")
