"""``submission.csv`` exactly in the sample submission's format: its header line byte for byte,
its id values as written (same order), and the target as labels or probabilities."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mltasks.errors import DataError

from mltasks_kaggle.data import read_csv


def wants_probability(sample: Path | None, target: str, mode: str, classes: list[Any]) -> bool:
    """Whether a classification submission holds probabilities: ``mode``, or, for auto, whether
    the sample's target values are fractional or per-class columns."""
    if mode != "auto":
        return mode == "probability"
    if sample is None:
        return False
    frame = read_csv(sample)
    if target not in frame.columns:
        return True  # one probability column per class
    values = frame[target].dropna()
    if values.dtype.kind == "f" and len(values) and not np.isin(values, classes).all():
        return True
    return False


def _format(values: Any) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, (float, np.floating)):
            out.append(repr(round(float(v), 8)) if not float(v).is_integer() else str(int(v)))
        else:
            out.append(str(v.item() if hasattr(v, "item") else v))
    return out


def _rows_in_sample_order(sample: Path, id_column: str, test_ids: pd.Series, test_path: Path) -> tuple[str, Any]:
    """The sample's header line and, for each sample row, the position of its id in test.csv."""
    raw = sample.read_bytes().decode("utf-8")
    header = raw.splitlines()[0]
    frame = read_csv(sample, dtype=str, keep_default_na=False)
    if str(frame.columns[0]) != id_column:
        raise DataError(f"{sample}: first column is {frame.columns[0]!r}, expected the id column {id_column!r}")
    position = {str(v): i for i, v in enumerate(test_ids.astype(str))}
    # ids may be written differently ("1" vs "1.0"): compare as pandas parses them too
    parsed = read_csv(sample)[id_column].astype(str).tolist()
    missing = [s for s, p in zip(frame[id_column], parsed) if s not in position and p not in position]
    if missing or len(frame) != len(test_ids):
        raise DataError(f"{sample}: its ids do not match {test_path.name}'s "
                        f"({len(frame)} vs {len(test_ids)} rows; e.g. {missing[:3]} not in {test_path.name})")
    order = [position.get(s, position.get(p)) for s, p in zip(frame[id_column], parsed)]
    return header, (frame[id_column].tolist(), np.asarray(order))


def write_submission(
    path: Path,
    *,
    ids: pd.Series | None,
    id_column: str | None,
    target: str,
    problem: str,
    classes: list[Any],
    pred: np.ndarray,
    probability: bool,
    sample: Path | None,
    test_path: Path,
) -> Path:
    """Write the submission for the test rows' predictions (probabilities or values)."""
    sample_columns = read_csv(sample).columns.tolist()[1:] if sample is not None else None
    per_class = probability and problem != "regression" and (
        problem == "multiclass" if sample_columns is None else sample_columns != [target])
    if problem == "regression":
        columns, values = [target], [pred]
    elif per_class:  # one probability column per class (Kaggle's multiclass layout)
        columns, values = [str(c) for c in classes], [pred[:, i] for i in range(len(classes))]
    elif probability and problem == "binary":
        columns, values = [target], [pred[:, 1]]
    else:
        columns, values = [target], [np.asarray(classes, dtype=object)[pred.argmax(axis=1)]]
    if sample_columns is not None and [str(c) for c in sample_columns] != columns:
        raise DataError(f"{sample}: columns {sample_columns} after the id do not match the predictions' {columns}")
    if sample is not None and id_column:
        test_ids = ids if ids is not None else pd.Series(range(len(pred)))
        header, (id_text, order) = _rows_in_sample_order(sample, id_column, test_ids, test_path)
        values = [np.asarray(v, dtype=object)[order] for v in values]
    else:
        id_text = _format(ids if ids is not None else range(len(pred)))
        header = ",".join([id_column or "id", *columns])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    formatted = [_format(v) for v in values]
    for i, ident in enumerate(id_text):
        writer.writerow([ident, *(col[i] for col in formatted)])
    path.write_text(header + "\n" + buffer.getvalue(), encoding="utf-8")
    return path
