"""The reward curve of a training run, from the episodes SB3's Monitor recorded."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from mltasks import plots

Curve = Sequence[tuple[int, float, int]]  # (timestep at episode end, return, length)


def reward_curve(path: Path, curve: Curve, env_id: str, algo: str, window: int = 20) -> Path:
    """Plot each training episode's return (dots) and its moving average against timesteps."""
    steps = [c[0] for c in curve]
    returns = [c[1] for c in curve]
    smooth = []
    for i in range(len(returns)):
        chunk = returns[max(0, i - window + 1): i + 1]
        smooth.append(sum(chunk) / len(chunk))
    with plots.figure(path, size=(7.0, 4.2)) as ax:
        ax.scatter(steps, returns, s=4, alpha=0.3, color="#4c72b0", label="episode return")
        ax.plot(steps, smooth, color="#dd8452", label=f"mean of last {window}")
        ax.set_xlabel("training timestep")
        ax.set_ylabel("episode return")
        ax.set_title(f"{algo.upper()} on {env_id}: training reward (Monitor)")
        ax.legend(loc="best", fontsize=8)
    return Path(path)


def write_curve_csv(path: Path, curve: Curve) -> Path:
    """Write the Monitor episodes as ``timestep,return,length`` rows."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestep", "return", "length"])
        writer.writerows(curve)
    return Path(path)
