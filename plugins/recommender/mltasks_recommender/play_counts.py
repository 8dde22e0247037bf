"""A generated play-count log: implicit feedback with a long tail and taste structure.

    python -c "from mltasks_recommender.play_counts import write_play_counts; write_play_counts('plays.csv')"

What real listening logs look like (Last.fm, the Million Song Dataset's taste profiles): each
user plays a few dozen of many tracks, how many differs a lot between users, most pairs are
played once or twice and a few hundreds of times. Here the tracks fall into genres; every user
has one favourite genre and most of what they play, and most of their plays, come from it.
Within a genre and overall, a few tracks are far more popular than the rest (Zipf), so a
popularity baseline is a real competitor. The file has the columns ``user_id,track_id,plays``
and is the same for the same arguments.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

N_USERS, N_ITEMS, N_GENRES = 300, 120, 6
#: Share of a user's tracks taken from their favourite genre (the rest: anything, by popularity).
FAVOURITE_SHARE = 0.75


def play_counts(n_users: int = N_USERS, n_items: int = N_ITEMS, n_genres: int = N_GENRES,
                seed: int = 0) -> list[tuple[str, str, int]]:
    """``(user, track, plays)`` rows, one per user-track pair played at least once."""
    rng = np.random.default_rng(seed)
    genre_of = np.arange(n_items) % n_genres
    # global popularity: Zipf over a random order of the tracks
    popularity = 1.0 / (1 + rng.permutation(n_items)) ** 0.8
    rows = []
    for user in range(n_users):
        favourite = user % n_genres
        activity = rng.lognormal(0.0, 0.6)  # heavy and light listeners
        n_tracks = int(np.clip(rng.lognormal(np.log(22), 0.35), 12, n_items // 2))
        own = np.flatnonzero(genre_of == favourite)
        n_own = min(len(own), int(round(FAVOURITE_SHARE * n_tracks)))
        p_own = popularity[own] / popularity[own].sum()
        chosen = set(rng.choice(own, size=n_own, replace=False, p=p_own).tolist())
        p_all = popularity / popularity.sum()
        while len(chosen) < n_tracks:
            chosen.add(int(rng.choice(n_items, p=p_all)))
        for item in sorted(chosen):
            liked = genre_of[item] == favourite
            # plays: log-normal with a fat right tail; the favourite genre gets more replays
            plays = int(np.ceil(rng.lognormal(np.log(activity) + (1.2 if liked else 0.0), 1.1)))
            rows.append((f"u{user:04d}", f"t{item:04d}", max(1, plays)))
    return rows


def write_play_counts(path: str | Path, **kwargs: int) -> Path:
    """Write :func:`play_counts` as ``user_id,track_id,plays`` to ``path``; returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user_id", "track_id", "plays"])
        writer.writerows(play_counts(**kwargs))
    return path
