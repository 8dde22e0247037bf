"""What ``kaggle`` predict takes and gives: rows (dicts, JSON object strings or CSV files) become
DataFrames of the training features, and the model's predictions become JSON-ready records."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mltasks.errors import DataError

from mltasks_kaggle.data import Schema, read_csv


def input_frames(inputs: Any, schema: Schema, kinds: dict[str, str]) -> Iterator[tuple[Any, Any]]:
    """``(frame, source)`` for each input: a dict or a JSON object string is one row of the
    features (absent keys are missing values; the id column kept when given), a path is a CSV file.

    :param kinds: each feature's kind (``numeric`` columns given no value are typed float).
    :raises DataError: no inputs, a JSON string that is not an object, or an unreadable CSV.
    """
    import pandas as pd

    if inputs is None or (not isinstance(inputs, dict) and not inputs):
        raise DataError("kaggle predict needs CSV files or rows, e.g. mltasks predict RUN new.csv "
                        "or '{\"age\": 30}'")
    for item in [inputs] if isinstance(inputs, (str, Path, dict)) else list(inputs):
        if isinstance(item, dict) or str(item).lstrip().startswith("{"):
            row = item if isinstance(item, dict) else json_row(str(item))
            frame = pd.DataFrame([{c: row.get(c) for c in schema.features}])
            frame = frame.astype({c: float for c in schema.features
                                  if kinds.get(c) == "numeric" and frame[c].isna().all()})
            if schema.id_column and schema.id_column in row:
                frame[schema.id_column] = [row[schema.id_column]]
            yield frame, "JSON input"
        else:
            yield read_csv(Path(str(item))), Path(str(item))


def prediction_records(frame: Any, pred: Any, schema: Schema) -> list[dict[str, Any]]:
    """One record per row of ``frame``: its id (when the frame has the id column), ``prediction``
    and, for classification, ``probabilities`` per class.

    :param pred: class probabilities ``(rows, classes)`` in the order of ``schema.classes``, or
        regression values ``(rows,)``.
    """
    ids = frame[schema.id_column].tolist() if schema.id_column and schema.id_column in frame else None
    out = []
    for i in range(len(frame)):
        record: dict[str, Any] = {}
        if ids is not None and schema.id_column:
            record[schema.id_column] = json_value(ids[i])
        if schema.problem == "regression":
            record["prediction"] = float(pred[i])
        else:
            record["prediction"] = json_value(schema.classes[int(pred[i].argmax())])
            record["probabilities"] = {str(c): float(p) for c, p in zip(schema.classes, pred[i])}
        out.append(record)
    return out


def json_row(text: str) -> dict[str, Any]:
    """One JSON object (a row given on the command line).

    :raises DataError: the text is not JSON, or not an object.
    """
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"input {text[:60]!r} is not a JSON object: {exc}") from None
    if not isinstance(row, dict):
        raise DataError(f"input {text[:60]!r} is not a JSON object (column -> value)")
    return row


def json_value(value: Any) -> Any:
    """A JSON-ready scalar (numpy types unwrapped, NaN -> None)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
