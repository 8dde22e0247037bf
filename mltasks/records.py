"""How ``mltasks predict`` prints records: a table when every value is a one-line scalar, else one
``key=value`` line per record; nothing is cut."""

from __future__ import annotations

import json
from typing import Any


def _scalar(value: Any) -> bool:
    return value is None or (isinstance(value, (str, int, float, bool)) and "\n" not in str(value))


def _cell(value: Any) -> str:
    """A value as printed: floats to 6 significant digits, lists, dicts and multi-line text as JSON, whole."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if _scalar(value):
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def format_records(records: list[dict[str, Any]]) -> list[str]:
    """The lines ``mltasks predict`` prints: a table (header, one row per record) when every
    value is a single-line scalar, else one ``key=value`` line per record; nothing is cut."""
    if not records:
        return []
    columns = list(dict.fromkeys(key for record in records for key in record))
    if not all(_scalar(v) for record in records for v in record.values()):
        return ["  ".join(f"{k}={_cell(v)}" for k, v in record.items()) for record in records]
    rows = [[_cell(record.get(c)) for c in columns] for record in records]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [columns, *rows]]
