"""``submission.csv`` exactly in the sample submission's format.

The format is read and checked in ``load_data``, before any training (:func:`submission_format`):
the sample's header line byte for byte, its columns in their order (the id column wherever it
sits, then the target, or one probability column per class in any order), its id values as
written and which test row each one is. Anything the sample can be refused for is refused
there, with one line naming the file; :func:`write_submission` then only fills the columns in.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mltasks.errors import DataError

from mltasks_kaggle.data import Schema, read_csv


@dataclass(frozen=True)
class SubmissionFormat:
    """What ``submission.csv`` holds and in which order, fixed before training.

    :param kind: ``label``, ``probability`` or ``value`` (regression).
    :param header: the first line of the file, copied byte for byte.
    :param columns: the column names in file order.
    :param class_index: for per-class probability columns, column -> position in the schema's
        classes (the predictions' column); a binary ``probability`` target column is class 1.
    :param ids: the id values as the sample writes them, in its row order (None: the test ids).
    :param rows: for each submission row, the test row it predicts (None: test order).
    """

    kind: str
    header: str
    columns: list[str]
    id_column: str | None
    target: str
    class_index: dict[str, int] = field(default_factory=dict)
    ids: list[str] | None = None
    rows: np.ndarray | None = None
    sample: Path | None = None

    @property
    def per_class(self) -> bool:
        """Whether the classes' probabilities go in one column each."""
        return bool(self.class_index)


def _spellings(value: Any) -> set[str]:
    """How a class label may be written as a column name (``1.0`` also as ``1``)."""
    text = str(value.item() if hasattr(value, "item") else value)
    names = {text}
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        names.add(str(int(value)))
    return names


def class_columns(columns: list[str], classes: list[Any]) -> tuple[dict[str, int], list[str], list[str]]:
    """Match column names to class labels: ``(column -> class position, unknown columns,
    classes without a column)``."""
    position = {name: i for i, c in enumerate(classes) for name in _spellings(c)}
    matched = {c: position[c.strip()] for c in columns if c.strip() in position}
    unknown = [c for c in columns if c not in matched]
    missing = [str(c) for i, c in enumerate(classes) if i not in matched.values()]
    return matched, unknown, missing


def _fractional(values: pd.Series, classes: list[Any]) -> bool:
    """Whether a sample's target values look like probabilities rather than labels."""
    values = values.dropna()
    return values.dtype.kind == "f" and len(values) > 0 and not np.isin(values, classes).all()


def submission_format(sample: Path | None, test: pd.DataFrame, test_path: Path, schema: Schema,
                      mode: str) -> SubmissionFormat:
    """Read and check the submission's format before training.

    :param sample: the sample submission (None: columns id, target, in test.csv's order; one
        probability column per class for a multiclass probability submission).
    :param test: test.csv's rows (their ids are matched to the sample's).
    :param mode: the config's ``submission``: auto, label or probability.
    :raises DataError: naming the sample (or test.csv): no id column, a column that is neither
        the target nor a class, a class without a column, a per-class layout for labels or for a
        regression, probabilities of several classes in one column, duplicated ids, ids that are
        not test.csv's.
    """
    problem, target, classes = schema.problem, schema.target, schema.classes
    if sample is None:
        return _default_format(schema, mode)
    frame = read_csv(sample)
    columns = [str(c) for c in frame.columns]
    id_column = schema.id_column
    if not id_column or id_column not in columns:
        raise DataError(f"{sample}: no id column {id_column!r} (columns: {', '.join(columns)})")
    others = [c for c in columns if c != id_column]
    class_index: dict[str, int] = {}
    if others == [target]:
        if problem == "regression":
            kind = "value"
        elif mode == "probability" or (mode == "auto" and _fractional(frame[target], classes)):
            if problem == "multiclass":
                raise DataError(f"{sample}: one column {target!r} cannot hold the probabilities of "
                                f"{len(classes)} classes; give one column per class ({', '.join(map(str, classes))})"
                                " or --set submission=label")
            kind, class_index = "probability", {}
        else:
            kind = "label"
    elif problem == "regression":
        raise DataError(f"{sample}: columns {', '.join(others)} after the id; a regression submission holds "
                        f"the target {target!r} alone")
    else:
        class_index, unknown, missing = class_columns(others, classes)
        if unknown:
            raise DataError(f"{sample}: column(s) {', '.join(map(repr, unknown))} are neither the target {target!r} "
                            f"nor one of its classes ({', '.join(map(str, classes))})")
        if missing:
            raise DataError(f"{sample}: no column for class(es) {', '.join(missing)} of target {target!r}")
        if mode == "label":
            raise DataError(f"{sample}: one probability column per class, but submission=label; "
                            "use --set submission=auto or probability")
        kind = "probability"
    header = sample.read_bytes().decode("utf-8").splitlines()[0]
    ids, rows = _sample_rows(sample, id_column, test, test_path)
    return SubmissionFormat(kind, header, columns, id_column, target, class_index, ids, rows, sample)


def _default_format(schema: Schema, mode: str) -> SubmissionFormat:
    """Columns id, target (or one per class for multiclass probabilities) without a sample."""
    id_column = schema.id_column or "id"
    if schema.problem == "regression":
        kind = "value"
    else:
        kind = "probability" if mode == "probability" else "label"
    class_index: dict[str, int] = {}
    if kind == "probability" and schema.problem == "multiclass":
        class_index = {str(c): i for i, c in enumerate(schema.classes)}
    columns = [id_column, *(class_index or [schema.target])]
    return SubmissionFormat(kind, ",".join(columns), columns, schema.id_column, schema.target, class_index)


def _sample_rows(sample: Path, id_column: str, test: pd.DataFrame, test_path: Path) -> tuple[list[str], np.ndarray]:
    """The sample's id values as written and, for each sample row, the position of its id in test.csv."""
    if id_column not in test.columns:
        raise DataError(f"{test_path}: no id column {id_column!r}")
    test_ids = test[id_column].astype(str)
    repeated = test_ids[test_ids.duplicated()]
    if len(repeated):
        raise DataError(f"{test_path}: id {repeated.iloc[0]!r} appears more than once; the ids must be unique "
                        f"to match {sample.name}'s rows")
    as_written = read_csv(sample, dtype=str, keep_default_na=False)[id_column]
    if as_written.duplicated().any():
        raise DataError(f"{sample}: id {as_written[as_written.duplicated()].iloc[0]!r} appears more than once")
    position = {v: i for i, v in enumerate(test_ids)}
    # ids may be written differently ("1" vs "1.0"): compare as pandas parses them too
    parsed = read_csv(sample)[id_column].astype(str).tolist()
    missing = [s for s, p in zip(as_written, parsed) if s not in position and p not in position]
    if missing or len(as_written) != len(test_ids):
        raise DataError(f"{sample}: its ids do not match {test_path.name}'s "
                        f"({len(as_written)} vs {len(test_ids)} rows; e.g. {missing[:3]} not in {test_path.name})")
    rows = np.asarray([position.get(s, position.get(p)) for s, p in zip(as_written, parsed)])
    return as_written.tolist(), rows


def _format(values: Any) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, (float, np.floating)):
            out.append(repr(round(float(v), 8)) if not float(v).is_integer() else str(int(v)))
        else:
            out.append(str(v.item() if hasattr(v, "item") else v))
    return out


def write_submission(path: Path, fmt: SubmissionFormat, *, ids: pd.Series | None, classes: list[Any],
                     pred: np.ndarray) -> Path:
    """Write the test rows' predictions (probabilities ``(rows, classes)`` or values ``(rows,)``)
    in ``fmt``: its header, its row order, each column where the sample has it."""
    rows = fmt.rows if fmt.rows is not None else np.arange(len(pred))
    if fmt.ids is not None:
        id_text = fmt.ids
    else:
        id_text = _format(ids if ids is not None else range(len(pred)))
    pred = np.asarray(pred)[rows]
    values: dict[str, list[str]] = {}
    for column in fmt.columns:
        if column in fmt.class_index:
            values[column] = _format(pred[:, fmt.class_index[column]])
        elif column == fmt.target:
            if fmt.kind == "value":
                values[column] = _format(pred)
            elif fmt.kind == "probability":
                values[column] = _format(pred[:, 1])
            else:
                values[column] = _format(np.asarray(classes, dtype=object)[pred.argmax(axis=1)])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for i, ident in enumerate(id_text):
        writer.writerow([values[c][i] if c in values else ident for c in fmt.columns])
    path.write_text(fmt.header + "\n" + buffer.getvalue(), encoding="utf-8")
    return path
