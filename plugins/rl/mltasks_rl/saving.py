"""The agent's files in a run directory, read back without unpickling anything.

SB3's ``model.save`` zip is written for users who want ``PPO.load`` elsewhere, but its
``data`` member is cloudpickle inside JSON: mltasks never reads it. Loading takes only the
zip's ``policy.pth`` and ``policy.optimizer.pth`` through ``torch.load(weights_only=True)``
(tensors and plain containers, nothing executable) and hands them to ``set_parameters`` of
an algorithm rebuilt from the task's JSON config. VecNormalize statistics are JSON.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks.errors import DataError

AGENT_FILE = "agent.zip"
NORMALIZER_FILE = "vecnormalize.json"
STATE_FILE = "agent.json"
#: The members of SB3's zip that hold weights (the ``data`` member is never read).
WEIGHT_MEMBERS = ("policy.pth", "policy.optimizer.pth")
#: Largest agent zip, and largest weight member once inflated (MLP and CNN policies are MBs).
AGENT_LIMIT = 1024**3


def read_weights(path: Path) -> dict[str, Any]:
    """``{"policy": state_dict, "policy.optimizer": state_dict}`` from an SB3 zip, with
    ``torch.load(weights_only=True)``.

    :raises DataError: the file is refused by :func:`check_agent_file`, is not a zip, lacks a
        member, or holds anything but tensors and plain containers (a pickled object is
        refused, never run).
    """
    import torch

    check_agent_file(path)
    params: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in WEIGHT_MEMBERS:
                if archive.getinfo(member).file_size > AGENT_LIMIT:
                    raise DataError(f"{path}: member {member} inflates beyond {AGENT_LIMIT} bytes")
                raw = archive.read(member)
                params[member[: -len(".pth")]] = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except DataError:
        raise
    except KeyError as exc:
        raise DataError(f"{path}: not a stable-baselines3 agent ({exc.args[0]})") from None
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: unreadable agent weights ({first})") from None
    policy = params["policy"]
    if not isinstance(policy, dict) or not all(isinstance(v, torch.Tensor) for v in policy.values()):
        raise DataError(f"{path}: policy.pth is not a state dict of tensors")
    return params


@dataclass
class ObservationNormalizer:
    """VecNormalize's observation statistics, applied as SB3 applies them when not training.

    :param stats: ``{key: (mean, var)}``; the key is ``""`` for a plain Box observation, the
        dict key for dict observations; empty when VecNormalize did not normalise observations.
    """

    stats: dict[str, tuple[Any, Any]]
    count: float
    clip_obs: float
    epsilon: float

    @classmethod
    def from_vecnormalize(cls, venv: Any) -> ObservationNormalizer:
        """Copy the statistics of a trained ``VecNormalize``."""
        import numpy as np

        stats: dict[str, tuple[Any, Any]] = {}
        count = 0.0
        if venv.norm_obs:
            rms = venv.obs_rms if isinstance(venv.obs_rms, dict) else {"": venv.obs_rms}
            for key, r in rms.items():
                stats[key] = (np.array(r.mean, dtype=np.float64), np.array(r.var, dtype=np.float64))
                count = float(r.count)
        return cls(stats, count, float(venv.clip_obs), float(venv.epsilon))

    def normalize_obs(self, obs: Any) -> Any:
        """``clip((obs - mean) / sqrt(var + eps))`` as float32 (SB3's ``VecNormalize.normalize_obs``)."""
        import numpy as np

        def norm(x: Any, mean: Any, var: Any) -> Any:
            z = (x - mean) / np.sqrt(var + self.epsilon)
            return np.clip(z, -self.clip_obs, self.clip_obs).astype(np.float32)

        if not self.stats:
            return obs
        if "" in self.stats:
            return norm(obs, *self.stats[""])
        return {k: (norm(v, *self.stats[k]) if k in self.stats else v) for k, v in obs.items()}

    def save(self, path: Path) -> None:
        """Write the statistics as JSON (floats round-trip exactly)."""
        data = {"count": self.count, "clip_obs": self.clip_obs, "epsilon": self.epsilon,
                "stats": {k: {"mean": m.tolist(), "var": v.tolist()} for k, (m, v) in self.stats.items()}}
        path.write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ObservationNormalizer:
        """Read :meth:`save`'s JSON; DataError naming the file when it is missing or malformed."""
        import numpy as np

        data = read_json_file(path)
        try:
            stats = {str(k): (np.array(s["mean"], dtype=np.float64), np.array(s["var"], dtype=np.float64))
                     for k, s in data["stats"].items()}
            normalizer = cls(stats, float(data["count"]), float(data["clip_obs"]), float(data["epsilon"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{path}: not VecNormalize statistics ({type(exc).__name__}: {exc})") from None
        if any(m.shape != v.shape or not np.all(v >= 0) for m, v in stats.values()) or not math.isfinite(
                normalizer.epsilon):
            raise DataError(f"{path}: malformed VecNormalize statistics (shapes or variances)")
        return normalizer


def read_json_file(path: Path) -> Any:
    """A JSON file of the saved agent, read as the core reads run files (a regular file inside
    its folder, size-capped, depth-limited); DataError naming it when missing or refused."""
    from mltasks.errors import MltasksError
    from mltasks.rundir import read_json

    try:
        return read_json(path)
    except MltasksError as exc:
        raise DataError(str(exc)) from None


def check_agent_file(path: Path) -> None:
    """Refuse an agent zip that is missing, not a regular file (a device, a pipe) or a symlink
    out of its folder, or larger than :data:`AGENT_LIMIT`.

    :raises DataError: naming the file.
    """
    if not path.exists():
        raise DataError(f"{path}: missing; the run directory has no saved agent")
    if path.resolve().parent != path.parent.resolve():
        raise DataError(f"{path}: points outside {path.parent}; a run file must lie inside its run directory")
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: not a regular file; refusing to read it")
    if info.st_size > AGENT_LIMIT:
        raise DataError(f"{path}: {info.st_size} bytes, more than the {AGENT_LIMIT} an agent may hold")
