"""Plain-text tables and cell formats shared by ``mltasks runs`` and ``mltasks compare``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def number(value: Any) -> str:
    """A metric cell: 4 decimals for everyday values, 6 significant digits for large ones."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value)) if isinstance(value, int) else f"{value:.4f}"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.6g}"


def signed(value: float | None) -> str:
    """A difference cell with its sign (``+0.0120``)."""
    if value is None:
        return "-"
    return ("+" if value > 0 else "") + number(value)


def duration(seconds: float | None) -> str:
    """``3.2s``, ``4m05s``, ``1h02m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell, two spaces apart; ``right`` lists the columns
    aligned right (numbers)."""
    cells = [[str(h) for h in headers]] + [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
