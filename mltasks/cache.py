"""The shared cache (converted models, image features, built datasets).

It lives in ``MLTASKS_CACHE_DIR`` (default ``~/.cache/mltasks``); entries are addressed by
a hash of what they were made from, and written atomically so that a crash or two
processes racing never leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def cache_dir(namespace: str = "") -> Path:
    """``$MLTASKS_CACHE_DIR/namespace`` (created); default root ``~/.cache/mltasks``."""
    root = Path(os.environ.get("MLTASKS_CACHE_DIR") or Path.home() / ".cache" / "mltasks")
    path = root / namespace if namespace else root
    path.mkdir(parents=True, exist_ok=True)
    return path


def update_with_file(digest: Any, path: Path) -> Any:
    """Feed a file's bytes to a hashlib ``digest`` (in chunks: files may be large); returns it."""
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest


def file_sha256(path: Path | str) -> str:
    """The sha256 hex digest of a file's content."""
    with Path(path).open("rb") as fh:
        if hasattr(hashlib, "file_digest"):  # Python 3.11+
            return hashlib.file_digest(fh, "sha256").hexdigest()
    return update_with_file(hashlib.sha256(), Path(path)).hexdigest()


def content_key(*parts: Any) -> str:
    """A sha256 hex key of JSON-serialisable parts, bytes, or files (hashed by content)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, (bytes, bytearray, memoryview)):
            digest.update(bytes(part))
        elif isinstance(part, Path) and part.is_file():
            update_with_file(digest, part)
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it is renamed to ``final``.

    If another process finished ``final`` first, that entry is kept and the new one
    dropped (both hold the same content by construction of the key).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes it private; a cache entry is an ordinary folder
        try:
            tmp.rename(final)
        except OSError:
            if not final.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(final: Path | str, mode: str = "wb", encoding: str | None = None) -> Iterator[Any]:
    """Yield an open temporary file beside ``final``; on success it replaces ``final``
    (readable by all, like a normally created file), so readers never see half a file."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        Path(tmp).unlink(missing_ok=True)
