"""The made-up input of the warm-up prediction that runs before ``/health/ready`` says ready.

The first ``predict`` of many models is slow (lazy imports, thread pools, kernel caches);
running one on a made-up input of the task's kind before the server reports ready keeps
that cost off the first client. A task that refuses the made-up input (``DataError``) is
still warm: its model is loaded and its code path ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def warm_up_inputs(kind: str, suffixes: Sequence[str], folder: Path) -> list[Any] | None:
    """A made-up input of ``kind`` (files written under ``folder``); ``None`` when none can be made."""
    if kind == "none":
        return []
    if kind == "row":
        return [{}]
    if kind != "file":
        return ["warm-up"]
    for suffix in suffixes:
        path = folder / f"warm-up{suffix}"
        if suffix == ".wav":
            import wave

            with wave.open(str(path), "wb") as fh:
                fh.setnchannels(1)
                fh.setsampwidth(2)
                fh.setframerate(16000)
                fh.writeframes(b"\0\0" * 8000)
            return [str(path)]
        if suffix in IMAGE_SUFFIXES:
            try:
                from PIL import Image
            except ImportError:
                continue
            Image.new("RGB", (64, 64), (127, 127, 127)).save(path)
            return [str(path)]
    return None
