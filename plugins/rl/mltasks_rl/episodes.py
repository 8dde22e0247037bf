"""Playing episodes with a trained agent: deterministic evaluation, and GIF recording.

Each episode runs in a fresh single env reset with a fixed seed, so the same agent always
gets the same returns; observations go through the training VecNormalize statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mltasks.errors import ConfigError

from mltasks_rl.actions import to_env_action
from mltasks_rl.agent import EnvFactory


@dataclass
class Episode:
    """One played episode."""

    seed: int
    reward: float
    length: int
    success: bool | None = None
    frames: list[Any] = field(default_factory=list, repr=False)


def play(model: Any, normalizer: Any, factory: EnvFactory, seed: int, *, record: bool = False,
         max_frames: int = 400, deterministic: bool = True) -> Episode:
    """Play one episode from ``reset(seed=seed)`` (the same agent and seed give the same
    episode when ``deterministic``).

    :param normalizer: the training observation statistics (``normalize_obs``), or None.
    :param record: keep ``rgb_array`` frames (the env is made with that render mode).
    """
    env = replace(factory, render_mode="rgb_array" if record else None)()
    try:
        obs, info = env.reset(seed=seed)
        total, steps, done = 0.0, 0, False
        frames = [env.render()] if record else []
        while not done:
            if normalizer is not None:
                obs = normalizer.normalize_obs(obs)
            action, _ = model.predict(obs, deterministic=deterministic)
            obs, reward, terminated, truncated, info = env.step(to_env_action(action, env.action_space))
            total += float(reward)
            steps += 1
            done = bool(terminated or truncated)
            if record and len(frames) < max_frames:
                frames.append(env.render())
        success = info.get("is_success")
        return Episode(seed, total, steps, None if success is None else bool(success), frames)
    finally:
        env.close()


def summarize(episodes: list[Episode]) -> dict[str, float]:
    """Mean and std of the return, mean length, and success rate where the env reports one."""
    import numpy as np

    returns = np.array([e.reward for e in episodes], dtype=float)
    lengths = np.array([e.length for e in episodes], dtype=float)
    out = {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "mean_length": float(lengths.mean()),
        "episodes": float(len(episodes)),
    }
    flags = [e.success for e in episodes if e.success is not None]
    if flags:
        out["success_rate"] = float(sum(flags) / len(flags))
    return {k: v for k, v in out.items() if math.isfinite(v)}


def write_gif(frames: list[Any], path: Path, fps: int = 30, scale: float = 0.5) -> Path:
    """Write ``rgb_array`` frames as an animated GIF with Pillow (halved in size to stay small).

    :raises ConfigError: the path cannot be written (a missing parent that cannot be made, no
        permission, a folder in the way, no space), naming it.
    """
    from PIL import Image

    if not frames:
        raise ValueError("no frames to write")
    images = []
    for frame in frames:
        image = Image.fromarray(frame)
        if scale != 1.0:
            image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        images.append(image.convert("P", palette=Image.Palette.ADAPTIVE))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    except OSError as exc:
        raise ConfigError(f"gif_path {path}: cannot write the GIF ({exc.strerror or exc})") from None
    return path
