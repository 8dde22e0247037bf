"""The shared cache (converted models, image features, built datasets).

It lives in ``MLTASKS_CACHE_DIR`` (default ``~/.cache/mltasks``); entries are addressed by
a hash of what they were made from, and written atomically so that a crash or two
processes racing never leave a half-written entry.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mltasks.errors import MltasksError

#: Errors of a write that fails for want of room (no file name attached: the OS does not give one).
_NO_ROOM = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class UnwritablePathError(MltasksError, OSError):
    """A path the user gave (or a folder under it) cannot be written: not a folder, read-only,
    permission denied, no space left. An :class:`OSError` (``errno`` kept) and a
    :class:`~mltasks.errors.MltasksError` (CLI exit 2, one line naming the path)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.errno = code  # type: ignore[misc]

    def __str__(self) -> str:
        return str(self.args[0])


def unwritable(path: Path | str, exc: OSError) -> UnwritablePathError:
    """The error for ``path`` that could not be written because of ``exc``, naming both."""
    if isinstance(exc, UnwritablePathError):
        return exc
    reason = exc.strerror or str(exc)
    blocker = exc.filename if isinstance(exc.filename, str) else ""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and blocker and not os.path.isdir(blocker):
        reason = f"{blocker} is not a folder"
    elif exc.errno == errno.EISDIR or (exc.errno in (errno.EEXIST, errno.ENOTDIR) and blocker == str(path)):
        reason = "it is a folder"
    return UnwritablePathError(f"{path}: cannot write ({reason})", exc.errno)


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
    created = _missing_ancestor(final.parent)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:
        _remove_empty(final.parent, created)
        raise unwritable(final, exc) from None
    done = False
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            try:
                yield fh
            except OSError as exc:  # the caller's write into fh: only a full disk is ours to name
                if exc.errno in _NO_ROOM and exc.filename is None:
                    raise unwritable(final, exc) from None
                raise
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        done = True
    except UnwritablePathError:
        raise
    except OSError as exc:  # flushing on close, or the rename: the file is ours
        if exc.filename is None or exc.filename in (tmp, str(final)) or exc.filename2 == str(final):
            raise unwritable(final, exc) from None
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)
        if not done:  # a failed write leaves no empty folders behind
            _remove_empty(final.parent, created)


def _missing_ancestor(folder: Path) -> Path | None:
    """The highest folder of ``folder``'s path that does not exist yet (None when it exists)."""
    missing = None
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing, folder = folder, folder.parent
    return missing


def _remove_empty(folder: Path, top: Path | None) -> None:
    """Remove ``folder`` and its parents up to ``top`` (folders this module created) while empty."""
    if top is None:
        return
    while True:
        try:
            folder.rmdir()
        except OSError:
            return
        if folder == top:
            return
        folder = folder.parent
