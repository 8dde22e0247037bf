"""Turning a policy's action into what an environment's ``step`` takes.

``model.predict`` returns numpy arrays (a 0-d array for a ``Discrete`` space); toy-text
games index dicts with the action, so an array there fails with ``unhashable type``. Every
episode an agent plays (evaluate, predict, GIFs, serve) goes through :func:`to_env_action`.
"""

from __future__ import annotations

from typing import Any


def to_env_action(action: Any, space: Any) -> Any:
    """``action`` in the form ``space`` holds: ``int`` for ``Discrete``, arrays of the space's
    dtype and shape for ``Box``, ``MultiDiscrete`` and ``MultiBinary``, a tuple for ``Tuple``
    and a dict for ``Dict`` (converted part by part). The value itself is kept: SB3 acts in
    ``range(n)`` for a Discrete space, during training as here (it does not support ``start``).

    :raises ValueError: the action does not fit the space's shape.
    """
    import numpy as np
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        value = np.asarray(action).reshape(-1)
        if value.size != 1:
            raise ValueError(f"a Discrete action is one number, got shape {np.shape(action)}")
        return int(value[0])
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
        return np.asarray(action, dtype=space.dtype).reshape(space.shape)
    if isinstance(space, spaces.Tuple):
        return tuple(to_env_action(part, sub) for part, sub in zip(action, space.spaces, strict=True))
    if isinstance(space, spaces.Dict):
        return {key: to_env_action(action[key], sub) for key, sub in space.spaces.items()}
    return action
