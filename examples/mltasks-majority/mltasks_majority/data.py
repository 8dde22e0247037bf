"""Reading a labelled CSV into a numeric table, with errors that name the file."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mltasks.errors import DataError


@dataclass
class Table:
    """Feature rows and their labels."""

    features: np.ndarray  # (N, F) float64
    labels: list[str]
    columns: tuple[str, ...] = ()  # the feature column names, in order
    source: str = ""  # the file the rows came from, for error messages

    def __len__(self) -> int:
        return len(self.labels)


def read_csv(path: Path, label_col: str = "") -> tuple[Table, list[str]]:
    """Read ``path``; every column but the label must be numeric.

    :returns: the table and the feature column names.
    :raises DataError: unreadable, empty, missing label column, non-numeric values.
    """
    if path.is_dir() or not path.is_file():
        raise DataError(f"{path}: expected a CSV file")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a valid CSV ({exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header and at least one data row")
    header, body = rows[0], rows[1:]
    label = label_col or header[-1]
    if label not in header:
        raise DataError(f"{path}: no label column {label!r}; columns are {', '.join(header)}")
    li = header.index(label)
    names = [h for i, h in enumerate(header) if i != li]
    if not names:
        raise DataError(f"{path}: no feature columns besides the label {label!r}")
    features, labels = [], []
    for n, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {n} has {len(row)} fields, the header has {len(header)}")
        try:
            values = [float(v) for i, v in enumerate(row) if i != li]
        except ValueError:
            raise DataError(f"{path}: line {n} has a non-numeric feature value") from None
        if not all(map(math.isfinite, values)):  # nan or inf would poison every mean and distance
            raise DataError(f"{path}: line {n} has a feature value that is not a finite number")
        features.append(values)
        labels.append(row[li].strip())
    return Table(np.asarray(features, dtype=np.float64), labels, tuple(names), str(path)), names
