"""A tiny, structured interactions file for tests and the conformance kit."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

N_USERS, N_ITEMS, N_GROUPS = 80, 60, 3


def write_sample(path: Path, seed: int = 0) -> Path:
    """Write ``user_id,item_id,rating,timestamp`` rows: each user loves (4-5 stars) 18 of the 20
    items of their taste group and rates 5 others low, so a factor model beats popularity.

    :returns: ``path``.
    """
    rng = np.random.default_rng(seed)
    per_group = N_ITEMS // N_GROUPS
    rows = []
    clock = 1_600_000_000
    for user in range(N_USERS):
        group = user % N_GROUPS
        own = np.arange(group * per_group, (group + 1) * per_group)
        liked = rng.choice(own, size=18, replace=False)
        others = rng.choice(np.setdiff1d(np.arange(N_ITEMS), own), size=5, replace=False)
        for item in liked:
            clock += int(rng.integers(60, 3600))
            rows.append((f"u{user:03d}", f"i{item:03d}", float(rng.choice([4.0, 4.5, 5.0])), clock))
        for item in others:
            clock += int(rng.integers(60, 3600))
            rows.append((f"u{user:03d}", f"i{item:03d}", float(rng.choice([1.0, 2.0, 3.0])), clock))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        writer.writerows(rows)
    return path
