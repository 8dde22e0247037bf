"""``weights_used.json``: what a saved model records about the pretrained weights it was
trained with, and the check made when it is loaded again."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mltasks.cache import atomic_file
from mltasks.errors import DataError
from mltasks.weights.identity import Identity

#: What a saved model records: the identities of the pretrained weights it was trained with.
RECORD = "weights_used.json"


def record(directory: str | Path, identities: Iterable[Identity]) -> None:
    """Write ``weights_used.json`` into a saved model's folder (an empty list: no pretrained weights)."""
    with atomic_file(Path(directory) / RECORD, "w", encoding="utf-8") as fh:
        json.dump({"weights": [i.to_dict() for i in identities]}, fh, indent=2)


def read_record(directory: str | Path) -> list[Identity]:
    """The identities recorded in a saved model (read as data: a regular file, size and depth capped).

    :raises RunDirectoryError: the file is missing or unreadable; :raises DataError: it is not a record.
    """
    from mltasks.runfiles import read_run_json

    path = Path(directory) / RECORD
    if not path.exists() and not path.is_symlink():
        raise DataError(f"{path}: missing: the model does not say which pretrained weights it was trained with "
                        "(saved by an older version, or the file was removed); train it again")
    data = read_run_json(path, root=Path(directory), expect=dict)
    items = data.get("weights")
    ok = isinstance(items, list) and all(
        isinstance(i, dict) and all(isinstance(i.get(k), str) for k in ("name", "version", "sha256")) for i in items)
    if not ok:
        raise DataError(f"{path}: not a weights record (expected {{\"weights\": [{{name, version, sha256}}]}})")
    return [Identity(i["name"], i["version"], i["sha256"]) for i in items]  # type: ignore[union-attr]


def require(directory: str | Path, installed: Identity) -> None:
    """Refuse a saved model that was not trained with the weights about to be loaded.

    :raises DataError: the record names other weights (the message says which were recorded and
        which are installed), or records none; :raises RunDirectoryError: no readable record.
    """
    path = Path(directory) / RECORD
    recorded = read_record(directory)
    if any(r.sha256 == installed.sha256 for r in recorded):
        return
    same_name = [r for r in recorded if r.name == installed.name] or recorded
    was = ", ".join(str(r) for r in same_name) or "no pretrained weights"
    raise DataError(f"{path}: the model was trained with {was}, but the weights it needs now are {installed}; "
                    "install the weights the run used, or train again")
