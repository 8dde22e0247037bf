"""Tuned default hyperparameters per (algorithm, environment), and how --set overrides them.

The table follows rl-baselines3-zoo (DLR-RM/rl-baselines3-zoo, ``hyperparams/ppo.yml``,
``a2c.yml``, ``dqn.yml``): the values tuned there for the classic-control games and
LunarLander. ``lin_X`` in the zoo is a linear decay from X to 0, written here as
``("linear", X)``. The toy-text games, which the zoo does not tune, get
:data:`FAMILY_DEFAULTS`; other environments get SB3's own defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mltasks_rl.budgets import default_timesteps, env_family
from mltasks_rl.config import RLConfig

# (algo, env id) -> zoo hyperparameters. "timesteps" and "n_envs" are the zoo's n_timesteps/n_envs.
ZOO: dict[tuple[str, str], dict[str, Any]] = {
    ("ppo", "CartPole-v1"): dict(timesteps=100_000, n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8,
                                 gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate=("linear", 1e-3),
                                 clip_range=("linear", 0.2)),
    ("ppo", "Acrobot-v1"): dict(timesteps=1_000_000, n_envs=16, normalize=True, n_steps=256, gae_lambda=0.94,
                                gamma=0.99, n_epochs=4, ent_coef=0.0),
    ("ppo", "MountainCar-v0"): dict(timesteps=1_000_000, n_envs=16, normalize=True, n_steps=16, gae_lambda=0.98,
                                    gamma=0.99, n_epochs=4, ent_coef=0.0),
    ("ppo", "LunarLander-v3"): dict(timesteps=1_000_000, n_envs=16, n_steps=1024, batch_size=64, gae_lambda=0.98,
                                    gamma=0.999, n_epochs=4, ent_coef=0.01),
    ("ppo", "Pendulum-v1"): dict(timesteps=100_000, n_envs=4, n_steps=1024, gae_lambda=0.95, gamma=0.9,
                                 n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True,
                                 sde_sample_freq=4),
    ("a2c", "CartPole-v1"): dict(timesteps=500_000, n_envs=8, ent_coef=0.0),
    ("a2c", "Acrobot-v1"): dict(timesteps=500_000, n_envs=16, normalize=True, ent_coef=0.0),
    ("a2c", "MountainCar-v0"): dict(timesteps=1_000_000, n_envs=16, normalize=True, ent_coef=0.0),
    ("a2c", "LunarLander-v3"): dict(timesteps=200_000, n_envs=8, gamma=0.995, n_steps=5, ent_coef=1e-5,
                                    learning_rate=("linear", 8.3e-4)),
    ("dqn", "CartPole-v1"): dict(timesteps=50_000, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                                 learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256,
                                 gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
                                 net_arch=(256, 256)),
    ("dqn", "Acrobot-v1"): dict(timesteps=100_000, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000,
                                learning_starts=0, gamma=0.99, target_update_interval=250, train_freq=4,
                                gradient_steps=-1, exploration_fraction=0.12, exploration_final_eps=0.1,
                                net_arch=(256, 256)),
    ("dqn", "MountainCar-v0"): dict(timesteps=120_000, learning_rate=4e-3, batch_size=128, buffer_size=10_000,
                                    learning_starts=1000, gamma=0.98, target_update_interval=600, train_freq=16,
                                    gradient_steps=8, exploration_fraction=0.2, exploration_final_eps=0.07,
                                    net_arch=(256, 256)),
    ("dqn", "LunarLander-v3"): dict(timesteps=100_000, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000,
                                    learning_starts=0, gamma=0.99, target_update_interval=250, train_freq=4,
                                    gradient_steps=-1, exploration_fraction=0.12, exploration_final_eps=0.1,
                                    net_arch=(256, 256)),
}

#: PPO on the toy-text games (the zoo tunes none): eight cheap envs, large minibatches and few
#: epochs keep a step at ~0.2 ms; the high entropy bonus keeps exploring until the goal is found
#: (CliffWalking's deterministic policy otherwise walks into a wall until the step limit).
FAMILY_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("ppo", "toy-text"): dict(n_envs=8, n_steps=256, batch_size=256, n_epochs=4, gamma=0.99, gae_lambda=0.95,
                              ent_coef=0.05, learning_rate=1e-3),
}
#: Steps of a smoke run: a couple of thousand keeps the conformance kit within seconds (--quick's preset).
SMOKE_TIMESTEPS = int(RLConfig.quick_presets["timesteps"])
#: Classic-control and toy-text steps cost microseconds: subprocesses would spend more on
#: pickling than on stepping.
CHEAP_FAMILIES = ("classic-control", "toy-text")


class LinearSchedule:
    """``lin_X`` of the zoo: ``X * progress_remaining`` (a class, so SB3's zip pickles it by name)."""

    def __init__(self, start: float) -> None:
        self.start = float(start)

    def __call__(self, progress_remaining: float) -> float:
        return self.start * progress_remaining

    def __repr__(self) -> str:
        return f"lin_{self.start:g}"


@dataclass(frozen=True)
class Plan:
    """Everything a training run uses: the algorithm's keyword arguments and the run's shape."""

    algo: str
    env_id: str
    timesteps: int
    n_envs: int
    vec_env: str
    normalize: bool
    net_arch: tuple[int, ...]
    kwargs: dict[str, Any]
    max_episode_steps: int = 0

    def describe(self) -> dict[str, Any]:
        """A JSON-ready view (schedules shown as ``lin_X``)."""
        shown = {k: (repr(v) if isinstance(v, LinearSchedule) else v) for k, v in self.kwargs.items()}
        return {"algo": self.algo, "env": self.env_id, "timesteps": self.timesteps, "n_envs": self.n_envs,
                "vec_env": self.vec_env, "normalize": self.normalize, "net_arch": list(self.net_arch),
                "max_episode_steps": self.max_episode_steps, **shown}


def _value(spec: Any) -> Any:
    if isinstance(spec, tuple) and len(spec) == 2 and spec[0] == "linear":
        return LinearSchedule(spec[1])
    return spec


def plan(config: RLConfig, env_id: str) -> Plan:
    """Resolve the hyperparameters: zoo table (else the family's defaults) < config overrides;
    the steps follow :func:`~mltasks_rl.budgets.default_timesteps`.

    ``--quick`` presets one environment (a DummyVecEnv, for determinism) and SMOKE_TIMESTEPS steps
    (the config's ``quick_presets``), with the zoo's per-env rollout length (PPO's minibatch is
    capped at the rollout); in smoke mode DQN also starts learning within the few steps.
    """
    table = dict(ZOO.get((config.algo, env_id)) or FAMILY_DEFAULTS.get((config.algo, env_family(env_id)), {}))
    zoo_steps = table.pop("timesteps", None)
    timesteps = config.timesteps or default_timesteps(config.algo, env_id, zoo_steps, config.budget)
    zoo_envs = int(table.pop("n_envs", 1))
    n_envs = config.n_envs or zoo_envs
    normalize = bool(table.pop("normalize", False)) if config.normalize is None else config.normalize
    net_arch = tuple(config.net_arch) or tuple(table.pop("net_arch", ()))
    table.pop("net_arch", None)
    kwargs = {k: _value(v) for k, v in table.items()}
    for key in ("gamma", "n_steps", "batch_size", "n_epochs", "gae_lambda", "ent_coef"):
        value = getattr(config, key)
        if value is not None:
            kwargs[key] = value
    lr = config.learning_rate
    base_lr = kwargs.get("learning_rate")
    if lr is None and isinstance(base_lr, LinearSchedule):
        lr = base_lr.start
    if lr is not None or config.lr_schedule != "auto":
        if lr is None:
            lr = float(base_lr) if base_lr is not None else _sb3_default_lr(config.algo)
        zoo_linear = isinstance(base_lr, LinearSchedule)
        linear = config.lr_schedule == "linear" or (config.lr_schedule == "auto" and zoo_linear)
        kwargs["learning_rate"] = LinearSchedule(lr) if linear else float(lr)
    if config.smoke and config.algo == "dqn":  # start learning early enough to update within the few steps
        kwargs["learning_starts"] = min(int(kwargs.get("learning_starts", 100)), 256)
    if config.algo == "ppo" and "batch_size" in kwargs:
        rollout = int(kwargs.get("n_steps", 2048)) * n_envs
        kwargs["batch_size"] = min(int(kwargs["batch_size"]), rollout)
    vec_env = config.vec_env
    if vec_env == "auto":
        vec_env = "subproc" if n_envs > 1 and env_family(env_id) not in CHEAP_FAMILIES else "dummy"
    return Plan(config.algo, env_id, int(timesteps), int(n_envs), vec_env, normalize, net_arch, kwargs,
                config.max_episode_steps)


def zoo_timesteps(algo: str, env_id: str) -> int | None:
    """rl-baselines3-zoo's ``n_timesteps`` for the pair, or None when the table has no entry."""
    steps = ZOO.get((algo, env_id), {}).get("timesteps")
    return None if steps is None else int(steps)


def _sb3_default_lr(algo: str) -> float:
    return {"ppo": 3e-4, "a2c": 7e-4, "dqn": 1e-4}[algo]
