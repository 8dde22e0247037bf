"""Keyword ``predict``: every clip trimmed of silence, scored over windows when it is longer than
the model's window, and answered ``unknown`` below ``min_confidence``.

A record says what was heard where: ``windows`` (how many were scored) and ``window_s`` (the
seconds of the file the answer stands for). Nothing is cut silently: a clip too long to be
scored whole (more than 64 windows, with gaps between them) carries a ``warning``, which also
goes to the log (``mltasks.speech``; stderr when nothing else handles it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mltasks_speech.audio import fit_length, load_clip
from mltasks_speech.calibration import UNKNOWN
from mltasks_speech.silence import speech_span
from mltasks_speech.windows import combine, frame_windows

logger = logging.getLogger("mltasks.speech")


def _clip_windows(wave: torch.Tensor, rate: int, window: int, hop: int, trim: bool
                  ) -> tuple[torch.Tensor, list[tuple[int, int]], str | None]:
    """``(W, window)`` windows of one clip, the sample span of each in the file, and a warning
    when the windows leave parts of the speech unheard."""
    start, end = speech_span(wave, rate) if trim else (0, wave.shape[-1])
    speech = wave[start:end]
    if speech.shape[-1] <= window:
        return fit_length(speech, window)[None], [(start, end)], None
    windows, starts = frame_windows(speech, window, hop)
    gap = max(b - a for a, b in zip(starts, starts[1:]))
    warning = None
    if gap > window:
        heard = len(starts) * window / speech.shape[-1]
        warning = (f"{speech.shape[-1] / rate:.1f} s of speech: {len(starts)} windows of {window / rate:g} s "
                   f"{gap / rate:.2f} s apart heard {heard:.0%} of it; cut the file into shorter clips")
    return windows, [(start + s, start + s + window) for s in starts], warning


def predict_keywords(paths: Sequence[Path], probabilities: Callable[[torch.Tensor], np.ndarray],
                     classes: Sequence[str], *, rate: int, window: int, hop: int, pick: str, trim: bool,
                     top_k: int, min_confidence: float, notes: list[str]) -> list[dict[str, Any]]:
    """One record per file: ``label`` (or ``unknown``), ``probability``, ``top``, ``windows``,
    ``window_s`` and, where the answer was withheld, ``best_guess``; a ``warning`` where a clip
    could not be heard whole.

    :param probabilities: ``(N, window)`` waves -> ``(N, C)`` probabilities.
    :param notes: file warnings from reading (cut-short files) are appended here.
    """
    per_clip = [_clip_windows(load_clip(p, rate, notes)[0], rate, window, hop, trim) for p in paths]
    if not per_clip:
        return []
    probs = probabilities(torch.cat([w for w, _, _ in per_clip]))
    records, offset = [], 0
    for path, (windows, spans, warning) in zip(paths, per_clip):
        rows = probs[offset: offset + len(windows)]
        offset += len(windows)
        row, chosen = combine(rows, windows, pick)
        order = np.argsort(-row, kind="stable")[:top_k]
        best = classes[order[0]]
        record: dict[str, Any] = {
            "input": str(path), "label": best, "probability": float(row[order[0]]),
            "top": [{"label": classes[i], "probability": float(row[i])} for i in order],
            "windows": len(windows), "window_s": [round(spans[chosen][0] / rate, 3), round(spans[chosen][1] / rate, 3)]}
        if row[order[0]] < min_confidence:
            record.update(label=UNKNOWN, best_guess=best)
        if warning:
            record["warning"] = warning
            logger.warning("%s: %s", path, warning)  # the run's log in a run; stderr from the CLI
        records.append(record)
    return records
