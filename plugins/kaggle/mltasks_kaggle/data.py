"""Reading a competition: the CSV files, the target and id columns, the problem type, and the
checks that turn a bad file into a one-line :class:`DataError` naming it.

Layouts: a folder with ``train.csv``, ``test.csv`` and optionally ``sample_submission.csv``
(any ``*submission*.csv``); or one CSV (a file, or a folder holding only ``train.csv``) with
``--set target=COL``, of which 20% is held out as a labelled test split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltasks.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from mltasks_kaggle.submission import SubmissionFormat

HOLDOUT_FRACTION = 0.2
MAX_CLASSES_FOR_INTEGERS = 20


@dataclass
class Table:
    """One split: a DataFrame plus what the task needs to know about it."""

    frame: pd.DataFrame
    source: Path
    labelled: bool
    schema: Schema | None = None
    sample_submission: Path | None = None
    #: the format submission.csv will have (checked in load_data); None: no submission is written
    submission: SubmissionFormat | None = None

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class Schema:
    """What was inferred about a competition (saved with the model)."""

    target: str
    id_column: str | None
    problem: str  # binary | multiclass | regression
    features: list[str]
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    classes: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"target": self.target, "id_column": self.id_column, "problem": self.problem,
                "features": self.features, "dropped": self.dropped, "classes": self.classes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    """Read a UTF-8 CSV with pandas; any problem is a DataError naming the file."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, encoding="utf-8", encoding_errors="strict", **kwargs)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text ({_bad_byte(path)}); save it as UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if frame.empty:
        raise DataError(f"{path}: no rows")
    if any(str(c).startswith("Unnamed:") for c in frame.columns) and len(frame.columns) > 1:
        unnamed = [str(c) for c in frame.columns if str(c).startswith("Unnamed:")]
        raise DataError(f"{path}: columns without a header name ({', '.join(unnamed)})")
    return frame


def _bad_byte(path: Path) -> str:
    """Where the first byte that is not UTF-8 sits in the file (pandas reports the position
    inside the chunk it was decoding, not the file's)."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return f"byte offset {exc.start}, line {line}: 0x{raw[exc.start]:02x}, {exc.reason}"
    return "an invalid byte"


def find_files(source: Path) -> tuple[Path, Path | None, Path | None]:
    """``(train, test, sample_submission)`` of a source; test is None for a single-CSV source."""
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_file():
        return source, None, None
    train = source / "train.csv"
    if not train.is_file():
        csvs = sorted(source.glob("*.csv"))
        # one CSV is the training table, unless it is a test or submission file (no target to learn)
        if len(csvs) == 1 and csvs[0].name.lower() != "test.csv" and "submission" not in csvs[0].name.lower():
            return csvs[0], None, None
        raise DataError(f"{source}: no train.csv (a competition folder holds train.csv, test.csv and "
                        "optionally sample_submission.csv)")
    test = source / "test.csv"
    samples = sorted(p for p in source.glob("*.csv") if "submission" in p.name.lower())
    if len(samples) > 1:
        raise DataError(f"{source}: several submission files ({', '.join(p.name for p in samples)}); keep one")
    if samples and not test.is_file():
        # a sample submission lists test rows to predict: without them there is nothing to submit,
        # and silently holding out part of train.csv instead would surprise
        raise DataError(f"{test}: missing, but {samples[0].name} is there (a sample submission implies a test "
                        f"set); add test.csv, or remove {samples[0].name} to hold out 20% of train.csv as a "
                        "labelled test split")
    return train, (test if test.is_file() else None), (samples[0] if samples else None)


def infer_columns(target: str, id_column: str, train: pd.DataFrame, train_path: Path,
                  sample: pd.DataFrame | None, sample_path: Path | None) -> tuple[str, str | None]:
    """The target and id columns: from the config, else from the sample submission's columns."""
    if not target and sample is not None:
        if len(sample.columns) == 2:
            target = str(sample.columns[1])
        else:
            target = _target_of_class_columns(train, [str(c) for c in sample.columns[1:]])
        if not target:
            raise DataError(f"{sample_path}: {len(sample.columns)} columns, so the target is ambiguous; "
                            "give it with --set target=COL")
    if not target:
        raise DataError(f"{train_path}: which column is the target? give it with --set target=COL "
                        "(or add a sample_submission.csv with the columns id,target)")
    if target not in train.columns:
        raise DataError(f"{train_path}: no target column {target!r} (columns: {', '.join(map(str, train.columns))})")
    if not id_column and sample is not None:
        id_column = str(sample.columns[0])
        if id_column not in train.columns:
            raise DataError(f"{sample_path}: its first column {id_column!r} is not in {train_path.name}; the first "
                            "column of a sample submission is the id column (or give it with --set id=COL)")
    if not id_column:
        id_column = next((str(c) for c in train.columns if str(c).lower() == "id"), "")
    if id_column and id_column not in train.columns:
        raise DataError(f"{train_path}: no id column {id_column!r}")
    return target, (id_column or None)


def _target_of_class_columns(train: pd.DataFrame, columns: list[str]) -> str:
    """The one train column whose distinct values are exactly ``columns`` (a sample with one
    probability column per class, e.g. ``id,VF,F,M,L``); "" when none or several are."""
    wanted = {c.strip() for c in columns}
    found = [str(c) for c in train.columns
             if train[c].nunique() == len(wanted) and set(train[c].dropna().astype(str)) == wanted]
    return found[0] if len(found) == 1 else ""


def infer_problem(y: pd.Series, requested: str, path: Path) -> tuple[str, list[Any]]:
    """The problem type (binary, multiclass, regression) and the sorted class labels."""
    import numpy as np

    values = y.dropna()
    numeric = values.dtype.kind in "iufb"
    if requested == "regression":
        if not numeric:
            raise DataError(f"{path}: target {y.name!r} is not numeric, so it cannot be a regression target")
        return "regression", []
    if requested == "auto":
        integral = numeric and bool(np.all(np.mod(values.astype(float), 1) == 0))
        if numeric and not (integral and values.nunique() <= MAX_CLASSES_FOR_INTEGERS):
            return "regression", []
    classes = sorted(values.unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DataError(f"{path}: target {y.name!r} has a single value ({classes[:1]}); nothing to learn")
    problem = "binary" if len(classes) == 2 else "multiclass"
    if requested == "binary" and problem != "binary":
        raise DataError(f"{path}: problem=binary but target {y.name!r} has {len(classes)} classes")
    return problem, [c.item() if hasattr(c, "item") else c for c in classes]


def check_train(frame: pd.DataFrame, path: Path, target: str) -> pd.DataFrame:
    """Reject empty columns; drop rows without a target (a DataError if none is left)."""
    empty = [str(c) for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise DataError(f"{path}: column(s) {', '.join(map(repr, empty))} have no values at all; drop them")
    if frame.columns.duplicated().any():
        raise DataError(f"{path}: duplicated column names")
    frame = frame[frame[target].notna()]
    if len(frame) < 4:
        raise DataError(f"{path}: only {len(frame)} rows with a target; too few to cross-validate")
    return frame.reset_index(drop=True)


def feature_columns(train: pd.DataFrame, test: pd.DataFrame | None, target: str, id_column: str | None,
                    train_path: Path, test_path: Path | None) -> tuple[list[str], dict[str, str]]:
    """Features = columns in both train and test (minus id and target).

    A column only in train.csv is dropped (it may leak the target: Kaggle's test.csv never
    has it); a column only in test.csv is an error (the files do not belong together).
    """
    candidates = [str(c) for c in train.columns if c not in (target, id_column)]
    dropped: dict[str, str] = {}
    if test is not None and test_path is not None:
        extra = [str(c) for c in test.columns if c not in train.columns]
        if extra:
            raise DataError(f"{test_path}: columns not in {train_path.name}: {', '.join(extra)}; "
                            "train and test must share their columns")
        if id_column and id_column not in test.columns:
            raise DataError(f"{test_path}: no id column {id_column!r}")
        for col in candidates:
            if col not in test.columns:
                dropped[col] = f"only in {train_path.name}, not in {test_path.name} (not used: it could leak)"
    features = [c for c in candidates if c not in dropped]
    if not features:
        raise DataError(f"{train_path}: no feature columns shared with the test data")
    return features, dropped


def check_test_values(test: pd.DataFrame, train: pd.DataFrame, features: list[str], train_path: Path,
                      test_path: Path) -> None:
    """Refuse, before training, a test column that is numeric in train.csv but holds text here
    (the model could not predict those rows)."""
    import pandas as pd

    for col in features:
        if train[col].dtype.kind in "iufb" and test[col].dtype.kind not in "iufb":
            values = pd.to_numeric(test[col], errors="coerce")
            bad = test[col].notna() & values.isna()
            if bad.any():
                raise DataError(f"{test_path}: column {col!r} is numeric in {train_path.name} but holds "
                                f"text here ({bad.sum()} value(s), e.g. {test[col][bad].iloc[0]!r})")


def holdout(frame: pd.DataFrame, target: str, problem: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one labelled table into train and a 20% test (stratified for classification when
    every class can be; ``seed`` is the config's data seed)."""
    import math

    from mltasks.splitting import stratify_labels
    from sklearn.model_selection import train_test_split

    n_test = math.ceil(HOLDOUT_FRACTION * len(frame))  # what train_test_split takes for a 0.2 fraction
    stratify = stratify_labels(frame[target], n_test) if problem != "regression" else None
    tr, te = train_test_split(frame, test_size=n_test, random_state=seed, stratify=stratify)
    return tr.reset_index(drop=True), te.reset_index(drop=True)
