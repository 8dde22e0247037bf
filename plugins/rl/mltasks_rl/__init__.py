"""mltasks-rl: SB3 agents on gymnasium games (hook implementation only; the task is imported when it runs)."""

from __future__ import annotations

from mltasks import TaskSpec, hookimpl


@hookimpl
def register_tasks(register):  # type: ignore[no-untyped-def]
    """Register the ``rl`` task."""
    register(
        TaskSpec(
            name="rl",
            summary="game-playing agent: train/evaluate/watch SB3 agents (PPO, A2C, DQN) on gymnasium environments",
            task="mltasks_rl.task:RLTask",
            config="mltasks_rl.config:RLConfig",
            data_formats=[
                "a gymnasium environment id (CartPole-v1, Acrobot-v1, MountainCar-v0, LunarLander-v3 ...)",
                "'module:EnvId', or an id registered by a package named with --set env_module=PKG",
            ],
            default_data="CartPole-v1",
            requires=["gymnasium", "stable_baselines3", "torch"],
        )
    )
