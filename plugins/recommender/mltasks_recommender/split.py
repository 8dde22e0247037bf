"""Per-user leave-k-out splits and the sparse user x item matrices the models train on.

Each user with at least ``2 * holdout + min_train_items`` kept interactions leaves ``holdout``
of them out for test and ``holdout`` more for validation (random with the data seed, or the latest
by timestamp); everyone else stays in train only. Which rows are held out depends only on
the raw ids and the data seed (``split_seed``, else ``seed``), so a trained model's id maps
can be reused on the same data (``mltasks evaluate RUN_DIR``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from mltasks import Splits
from mltasks.errors import ConfigError, DataError

from mltasks_recommender.values import Dropped, ValueKind, detect_value_kind

if TYPE_CHECKING:
    import pandas as pd

    from mltasks_recommender.config import RecommenderConfig
    from mltasks_recommender.data import RawData

#: Users kept in smoke mode (the first ones in id order).
SMOKE_USERS = 120

TRAIN, VAL, TEST = 0, 1, 2


@dataclass
class Interactions:
    """One split: a users x items CSR matrix over the shared id maps.

    :param matrix: raw values for train (summed ratings or counts; 1 without a value column);
        1 for each held-out interaction otherwise.
    :param exclude: for a held-out split, the user's other known interactions, which are
        never recommended when scoring it (``None`` for train).
    :param values: for train, what the values are (rating, count or none) and why.
    :param dropped: for train, what each filter removed from the rows as read.
    """

    matrix: sp.csr_matrix
    users: Sequence[str]
    items: Sequence[str]
    exclude: sp.csr_matrix | None = None
    titles: dict[str, str] = field(default_factory=dict)
    values: ValueKind | None = None
    dropped: list[Dropped] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.matrix.nnz)

    def evaluated_users(self) -> np.ndarray:
        """Indices of the users with at least one interaction in this split."""
        return np.flatnonzero(np.diff(self.matrix.indptr))

    def relevant(self, user: int) -> np.ndarray:
        """Item indices of ``user`` in this split."""
        return self.matrix.indices[self.matrix.indptr[user] : self.matrix.indptr[user + 1]]


def prepare(raw: RawData, config: RecommenderConfig) -> tuple[pd.DataFrame, ValueKind, list[Dropped]]:
    """Detect what the values are, filter (``min_rating`` for ratings, zero counts for counts),
    merge duplicate user-item pairs (values summed) and keep each pair's raw value (1 without a
    value column); the value becomes confidence in training (:mod:`mltasks_recommender.confidence`).

    :returns: the tidy pairs, the values' kind, and what each filter dropped.
    """
    frame = raw.frame
    dropped: list[Dropped] = []
    if "rating" in frame.columns:
        values = detect_value_kind(frame["rating"].to_numpy(), config.value_kind)
    else:
        values = ValueKind("none", "no value column: each user-item pair is one interaction")
    total = len(frame)
    if values.kind == "rating" and config.min_rating > 0:
        frame = frame[frame["rating"] >= config.min_rating]
        dropped.append(Dropped(f"min_rating: ratings below {config.min_rating:g}", total - len(frame), total,
                               "--set min_rating=0 keeps them"))
        if frame.empty:
            raise DataError(f"{raw.source}: no interactions left with rating >= {config.min_rating} (set min_rating)")
    elif values.kind == "count":
        frame = frame[frame["rating"] > 0]  # a zero count is no interaction
        dropped.append(Dropped("counts of 0 (no interaction)", total - len(frame), total))
        if frame.empty:
            raise DataError(f"{raw.source}: every count is 0: no interactions")
    value = frame["rating"] if values.kind != "none" else np.ones(len(frame))
    agg: dict[str, Any] = {"value": "sum"}
    tidy = frame.assign(value=np.asarray(value, dtype=np.float64))
    if "timestamp" in frame.columns:
        agg["timestamp"] = "max"
    tidy = tidy.groupby(["user", "item"], sort=True, as_index=False).agg(agg)
    if config.smoke:
        keep = np.unique(tidy["user"].to_numpy())[:SMOKE_USERS]
        tidy = tidy[tidy["user"].isin(keep)].reset_index(drop=True)
    return tidy, values, [d for d in dropped if d.dropped]


def assign(tidy: pd.DataFrame, users: np.ndarray, config: RecommenderConfig, source: str) -> np.ndarray:
    """TRAIN/VAL/TEST per row of ``tidy`` (sorted by user, item); ``users`` are the rows' user codes,
    numbered in sorted id order."""
    rng = np.random.default_rng(config.data_seed)  # the split stays put when only the model seed changes
    n = len(tidy)
    if config.split == "latest":
        if "timestamp" not in tidy.columns:
            raise ConfigError(f"split=latest needs a timestamp column, and {source} has none (use split=random)")
        key = tidy["timestamp"].to_numpy()
    else:
        key = rng.random(n)
    # rows grouped by user (tidy is sorted by user), ordered by key within each user; ties by item
    order = np.lexsort((np.arange(n), key, users))
    _, starts, counts = np.unique(users[order], return_index=True, return_counts=True)
    labels = np.full(n, TRAIN, dtype=np.int8)
    k = config.holdout
    for start, count in zip(starts, counts, strict=True):
        if count >= 2 * k + config.min_train_items:
            end = start + count
            labels[order[end - k : end]] = TEST
            labels[order[end - 2 * k : end - k]] = VAL
    return labels


def _matrix(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((values.astype(np.float32), (rows, cols)), shape=shape)
    m.sort_indices()
    return m


def build_splits(raw: RawData, config: RecommenderConfig, ids: tuple[list[str], list[str]] | None = None) -> Splits:
    """The train/val/test :class:`Interactions` of ``raw``.

    :param ids: the (users, items) maps of a trained model; rows with unknown ids are dropped.
        ``None`` builds fresh maps (sorted ids) from the data.
    """
    import pandas as pd

    tidy, value_kind, dropped_rows = prepare(raw, config)
    user_codes, user_ids = pd.factorize(tidy["user"], sort=True)
    labels = assign(tidy, user_codes, config, raw.source)
    if ids is None:
        item_codes, item_ids = pd.factorize(tidy["item"], sort=True)
        users, items = [str(u) for u in user_ids], [str(i) for i in item_ids]
        rows, cols = user_codes, item_codes
    else:
        users, items = list(ids[0]), list(ids[1])
        rows = pd.Index(users).get_indexer(tidy["user"])
        cols = pd.Index(items).get_indexer(tidy["item"])
    known = (rows >= 0) & (cols >= 0)
    dropped = int((~known).sum())
    rows, cols = rows[known].astype(np.int64), cols[known].astype(np.int64)
    labels, values = labels[known], tidy["value"].to_numpy()[known]
    shape = (len(users), len(items))
    if not (labels == TRAIN).any():
        raise DataError(f"{raw.source}: no interactions to train on")

    def part(label: int, vals: np.ndarray) -> sp.csr_matrix:
        mask = labels == label
        return _matrix(rows[mask], cols[mask], vals[mask], shape)

    if not (labels == TEST).any():
        raise DataError(
            f"{raw.source}: no user has {2 * config.holdout + config.min_train_items} interactions"
            f"{' rated >= ' + str(config.min_rating) if value_kind.kind == 'rating' else ''} to hold out; "
            "lower holdout or min_train_items"
        )
    ones = np.ones(len(rows))
    train = part(TRAIN, values)
    everything = _matrix(rows, cols, ones, shape)
    held = {label: part(label, ones) for label in (VAL, TEST)}
    titles = {it: raw.titles[it] for it in items if it in raw.titles}
    excludes = {label: (everything - held[label]).tocsr() for label in (VAL, TEST)}
    for m in excludes.values():
        m.eliminate_zeros()
    val = Interactions(held[VAL], users, items, exclude=excludes[VAL], titles=titles)
    test = Interactions(held[TEST], users, items, exclude=excludes[TEST], titles=titles)
    info = {
        "source": raw.source,
        "users": len(users),
        "items": len(items),
        "interactions": int(len(rows)),
        "evaluated_users": int(len(test.evaluated_users())),
        "values": value_kind.kind,
        "values_rule": value_kind.reason,
        "min_rating": config.min_rating if value_kind.kind == "rating" else None,
        "filters": [d.to_dict() for d in dropped_rows],
        "split": f"{config.split} leave-{config.holdout}-out per user (val and test)",
    }
    if dropped:
        info["dropped_unknown_ids"] = dropped
    train_split = Interactions(train, users, items, titles=titles, values=value_kind, dropped=dropped_rows)
    return Splits(train=train_split, val=val, test=test, info=info)
