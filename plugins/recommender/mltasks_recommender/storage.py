"""The recommender's model files: NumPy arrays and JSON, read back without pickle.

``user_factors.npy``, ``item_factors.npy`` and ``popularity.npy`` (``np.save``), the training
matrix as ``user_items.npz`` (its CSR arrays) and ``ids.json`` (user and item ids, titles, and
the confidence the model was trained with: weighting, ``alpha``, how they were chosen).
Every read uses ``allow_pickle=False``; a missing, corrupt or inconsistent file is a
:class:`~mltasks.errors.DataError` naming it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from mltasks.errors import DataError

#: The files :func:`save_state` writes (besides the task config).
FILES = ("user_factors.npy", "item_factors.npy", "popularity.npy", "user_items.npz", "ids.json")


@dataclass
class SavedState:
    """Everything a trained recommender needs to predict and score again."""

    user_factors: np.ndarray  # (users, factors)
    item_factors: np.ndarray  # (items, factors)
    popularity: np.ndarray  # (items,)
    user_items: sp.csr_matrix  # (users, items) training values (ratings or counts, before weighting)
    users: list[str]
    items: list[str]
    titles: dict[str, str]
    confidence: dict[str, Any] = field(default_factory=dict)  # weighting, alpha, how chosen, candidates


def save_state(directory: Path, state: SavedState) -> None:
    """Write :data:`FILES` into ``directory``."""
    np.save(directory / "user_factors.npy", np.asarray(state.user_factors), allow_pickle=False)
    np.save(directory / "item_factors.npy", np.asarray(state.item_factors), allow_pickle=False)
    np.save(directory / "popularity.npy", np.asarray(state.popularity), allow_pickle=False)
    m = state.user_items
    np.savez(directory / "user_items.npz", data=m.data, indices=m.indices, indptr=m.indptr,
             shape=np.array(m.shape, dtype=np.int64))
    ids = {"users": state.users, "items": state.items, "titles": state.titles, "confidence": state.confidence}
    (directory / "ids.json").write_text(json.dumps(ids, ensure_ascii=False), encoding="utf-8")


def load_state(directory: Path) -> SavedState:
    """Read :func:`save_state`'s files and check they describe one model.

    :raises DataError: a file is missing, not what it should be, or disagrees with the others.
    """
    ids_path = directory / "ids.json"
    ids = _json(ids_path)
    try:
        users, items = [str(u) for u in ids["users"]], [str(i) for i in ids["items"]]
        titles = {str(k): str(v) for k, v in dict(ids.get("titles", {})).items()}
        confidence = dict(ids.get("confidence") or {})  # absent in runs saved before it was recorded
        if not isinstance(confidence.get("alpha", 1.0), (int, float)) or isinstance(confidence.get("alpha"), bool):
            raise TypeError(f"confidence alpha {confidence.get('alpha')!r} is not a number")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{ids_path}: not the ids of a saved recommender ({type(exc).__name__}: {exc})") from None
    state = SavedState(
        user_factors=_array(directory / "user_factors.npy", ndim=2),
        item_factors=_array(directory / "item_factors.npy", ndim=2),
        popularity=_array(directory / "popularity.npy", ndim=1),
        user_items=_matrix(directory / "user_items.npz"),
        users=users, items=items, titles=titles, confidence=confidence,
    )
    expected = {
        "user_factors.npy": (state.user_factors.shape[0], len(users)),
        "item_factors.npy": (state.item_factors.shape[0], len(items)),
        "popularity.npy": (state.popularity.shape[0], len(items)),
        "user_items.npz": (state.user_items.shape, (len(users), len(items))),
    }
    for name, (found, wanted) in expected.items():
        if found != wanted:
            raise DataError(f"{directory / name}: shape {found} does not match ids.json ({wanted})")
    if state.user_factors.shape[1] != state.item_factors.shape[1]:
        raise DataError(f"{directory / 'item_factors.npy'}: {state.item_factors.shape[1]} factors, but the user "
                        f"factors have {state.user_factors.shape[1]}")
    return state


def _missing(path: Path) -> DataError:
    return DataError(f"{path}: missing; the run directory's model is incomplete")


def _array(path: Path, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise _missing(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a NumPy array file ({_first_line(exc)})") from None
    if not isinstance(array, np.ndarray) or array.ndim != ndim or array.dtype.kind not in "fiu":
        raise DataError(f"{path}: expected a {ndim}-d numeric array")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{path}: holds NaN or infinite values")
    return array


def _matrix(path: Path) -> sp.csr_matrix:
    if not path.is_file():
        raise _missing(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            shape = tuple(int(n) for n in z["shape"])
            matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
    except (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a saved sparse matrix ({_first_line(exc)})") from None
    return matrix


def _json(path: Path) -> Any:
    if not path.is_file():
        raise _missing(path)
    from mltasks.errors import RunDirectoryError
    from mltasks.rundir import read_json

    try:
        return read_json(path)  # a regular file of the run, size- and depth-capped
    except RunDirectoryError as exc:
        raise DataError(str(exc)) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
