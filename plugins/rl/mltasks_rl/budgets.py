"""How long a default run trains: a budget a CPU user can wait for, per environment family.

rl-baselines3-zoo's ``n_timesteps`` are tuned for the best final score, not for a laptop: its
PPO on Acrobot-v1 and MountainCar-v0 takes 1M steps. With ``budget=cpu`` (the default) a run
trains for the zoo's steps capped at the family's CPU budget below; ``--set budget=zoo``
trains for the zoo's full budget and ``--set timesteps=N`` for exactly N. The caps were
chosen from measured speeds on 2 cores (the README lists them with the times).
"""

from __future__ import annotations

#: Most steps a default (``budget=cpu``) run trains for: family -> (PPO/A2C, DQN). DQN does a
#: gradient step every few env steps on a 256x256 net, so it is 5-20x slower per step.
CPU_STEPS: dict[str, tuple[int, int]] = {
    "classic-control": (200_000, 50_000),
    "toy-text": (200_000, 50_000),
    "box2d": (300_000, 100_000),
    "mujoco": (200_000, 50_000),
    "atari": (100_000, 50_000),
    "other": (100_000, 50_000),
}
#: Entry-point module prefixes of each family (gymnasium's own folders, ale-py for Atari).
FAMILY_PREFIXES = {
    "gymnasium.envs.classic_control": "classic-control",
    "gymnasium.envs.toy_text": "toy-text",
    "gymnasium.envs.box2d": "box2d",
    "gymnasium.envs.mujoco": "mujoco",
    "ale_py": "atari",
}


def env_family(env_id: str) -> str:
    """The family of a registered env, read from its entry point (``"other"`` for the rest,
    and for an id not registered)."""
    import gymnasium as gym

    if env_id.startswith("ALE/"):
        return "atari"
    spec = gym.registry.get(env_id)
    if spec is None:
        return "other"
    entry = spec.entry_point
    module = entry.split(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", "")
    for prefix, family in FAMILY_PREFIXES.items():
        if module == prefix or module.startswith(prefix + "."):
            return family
    return "other"


def default_timesteps(algo: str, env_id: str, zoo_steps: int | None, budget: str) -> int:
    """Steps of a run that does not set ``timesteps``: the zoo's (or the family's cap when the
    zoo has none) under ``budget=zoo``; the smaller of the two under ``budget=cpu``."""
    on_policy, off_policy = CPU_STEPS[env_family(env_id)]
    cap = off_policy if algo == "dqn" else on_policy
    if zoo_steps is None:
        return cap
    return zoo_steps if budget == "zoo" else min(zoo_steps, cap)
