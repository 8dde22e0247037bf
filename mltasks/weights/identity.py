"""Which pretrained weights a run used: a name, a version and one sha256 over their files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """Which weights a run used: a name, a version and one sha256 over all their files.

    Two identities are the same weights when their ``sha256`` agree (see :func:`combined_sha256`).
    """

    name: str
    version: str
    sha256: str

    def __str__(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.name}{version} (sha256 {self.sha256[:12]})"

    def to_dict(self) -> dict[str, str]:
        """The JSON form recorded in a saved model."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


def combined_sha256(files: Iterable[tuple[str, str]]) -> str:
    """One sha256 over ``(relative path, sha256)`` pairs, in path order: the identity of a folder."""
    digest = hashlib.sha256()
    for path, sha in sorted(files):
        digest.update(f"{path}\0{sha}\n".encode())
    return digest.hexdigest()
