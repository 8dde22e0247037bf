"""The "data" of the rl task: a gymnasium environment id, checked against the registry.

``load_data`` returns :class:`EnvSplit` objects that describe what each split means for an
environment (training steps, evaluation episodes and their seeds) rather than rows of data.
Every environment is made by :func:`make_env`, which checks the id is registered before
``gymnasium.make`` sees it: ``make`` itself would import the ``module`` of a
``module:EnvId`` string.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks.errors import DataError, MissingDependencyError

from mltasks_rl.modules import import_user_module

DEFAULT_ENV = "CartPole-v1"
#: Episode seeds of each split start here (+ the config seed), far from the training seeds.
SEED_BASE = {"train": 0, "val": 500_000, "test": 1_000_000, "predict": 2_000_000}
#: Step limit of an environment registered without one (CliffWalking, Blackjack, many custom
#: envs): an agent that never reaches the goal would otherwise never finish an episode.
FALLBACK_EPISODE_STEPS = 1000


@dataclass(frozen=True)
class EnvSplit:
    """One split of an environment: ``len()`` is its number of steps (train) or episodes."""

    env_id: str
    role: str
    size: int
    seed: int
    modules: tuple[str, ...] = ()  # packages imported to register env_id (env_module, "PKG:" prefix)

    def __len__(self) -> int:
        return self.size

    def episode_seeds(self) -> list[int]:
        """The reset seed of each evaluation episode (fixed: evaluation is reproducible)."""
        return [self.seed + i for i in range(self.size)]


def split_env_id(text: str) -> tuple[str, str]:
    """``"PKG:EnvId"`` -> ``("PKG", "EnvId")``; a plain id -> ``("", id)`` (gymnasium's convention)."""
    if ":" in text and not Path(text).exists():
        module, _, env_id = text.partition(":")
        return module, env_id
    return "", text


def is_registered(env_id: str) -> bool:
    """Whether ``env_id`` (no ``module:`` prefix) is in gymnasium's registry (ALE ids register ale-py's games)."""
    import gymnasium as gym

    if ":" in env_id:
        return False
    if env_id not in gym.registry and env_id.startswith("ALE/"):
        _register_ale()
    return env_id in gym.registry


def resolve_env_id(source: Any, env_module: str = "",
                   importer: Callable[[str], None] = import_user_module) -> tuple[str, tuple[str, ...]]:
    """Check that ``source`` names a registered gymnasium environment; return the id and the
    modules imported to register it.

    ``module:EnvId`` imports the module first (gymnasium's own convention), through
    ``importer`` (a task loaded from a run directory passes one that refuses every module
    the user did not name on the command line).
    :raises DataError: a path, or an id nobody registered (close matches are listed).
    """
    import gymnasium as gym

    module, text = split_env_id(str(source).strip())
    modules = tuple(dict.fromkeys(m for m in (env_module, module) if m))
    for name in modules:
        importer(name)
    if is_registered(text):
        return text, modules
    if Path(text).exists():
        kind = "folder" if Path(text).is_dir() else "file"
        raise DataError(f"{text}: is a {kind}, not a gymnasium environment id; the rl task trains on an environment "
                        f"such as {DEFAULT_ENV} (use --set env_module=PKG for one a package registers)")
    close = difflib.get_close_matches(text, list(gym.registry), n=5, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise DataError(f"{text!r}: unknown gymnasium environment id{hint} (add --set env_module=PKG to import "
                    "a package that registers it)")


def _register_ale() -> None:
    try:
        import ale_py
        import gymnasium as gym
    except ImportError:
        return
    gym.register_envs(ale_py)


def episode_limit(env_id: str, max_episode_steps: int = 0) -> int:
    """The step limit episodes of ``env_id`` run under: ``max_episode_steps`` when > 0, else
    the registered one, else :data:`FALLBACK_EPISODE_STEPS`."""
    import gymnasium as gym

    if max_episode_steps > 0:
        return max_episode_steps
    registered = gym.spec(env_id).max_episode_steps
    return int(registered) if registered else FALLBACK_EPISODE_STEPS


def make_env(env_id: str, render_mode: str | None = None, max_episode_steps: int = 0) -> Any:
    """``gymnasium.make`` of a registered id, under :func:`episode_limit`, with a ``Tuple``
    observation flattened (SB3's policies take boxes, discrete spaces and dicts, not tuples:
    Blackjack's three numbers become one one-hot vector).

    :raises DataError: ``env_id`` is not registered (it is never handed to ``make`` then), or
        gymnasium cannot make it. :raises MissingDependencyError: a missing extra (box2d, ale-py).
    """
    import gymnasium as gym
    from gymnasium.error import DependencyNotInstalled

    if not is_registered(env_id):
        raise DataError(f"{env_id!r}: not a registered gymnasium environment id")
    if render_mode is not None:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # render headless
    try:
        env = gym.make(env_id, render_mode=render_mode,
                       max_episode_steps=episode_limit(env_id, max_episode_steps))
    except DependencyNotInstalled as exc:
        pip = "gymnasium[box2d]" if "box2d" in str(exc).lower() else "gymnasium[classic-control]"
        raise MissingDependencyError(f"{env_id} needs a package that is not installed ({exc})", pip=pip) from None
    except (gym.error.Error, TypeError, ValueError) as exc:
        raise DataError(f"{env_id}: gymnasium could not make the environment ({exc})") from None
    if isinstance(env.observation_space, gym.spaces.Tuple):
        env = gym.wrappers.FlattenObservation(env)
    return env


def describe(env_id: str, max_episode_steps: int = 0,
             check: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Spaces, episode limit, reward threshold and family of an environment (for run.json).

    :param check: called with the environment first (the task refuses an algo that cannot act in it).
    """
    import gymnasium as gym

    from mltasks_rl.budgets import env_family

    env = make_env(env_id, max_episode_steps=max_episode_steps)
    try:
        if check is not None:
            check(env)
        spec = gym.spec(env_id)
        return {
            "env": env_id,
            "family": env_family(env_id),
            "observation_space": str(env.observation_space),
            "action_space": str(env.action_space),
            "max_episode_steps": episode_limit(env_id, max_episode_steps),
            "reward_threshold": spec.reward_threshold,
        }
    finally:
        env.close()
