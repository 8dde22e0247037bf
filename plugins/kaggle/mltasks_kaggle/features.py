"""Preprocessing as one scikit-learn ``ColumnTransformer``, fitted inside each CV fold.

Columns are sorted into kinds from the training data only:
numeric (median impute + missing indicator + scale), categorical (constant impute + one-hot,
rare levels grouped as "infrequent"), datetime (year, month, day, weekday, day of year),
text (words hashed into 64 features, or dropped) and identifier-like (unique codes, and integer
columns whose every value is distinct, such as a row index: dropped).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?)?")
TEXT_WORDS = 3.0  # mean words per value above which a string column is free text
HASH_FEATURES = 64


def column_kinds(frame: pd.DataFrame, features: list[str]) -> dict[str, str]:
    """``column -> numeric | categorical | datetime | text | identifier`` from the training rows."""
    kinds = {}
    for col in features:
        values = frame[col].dropna()
        if values.dtype.kind in "iu" and len(values) >= 20 and values.nunique() == len(frame):
            kinds[col] = "identifier"  # a row index (rownames, 1..n): a label for rows, not a measurement
            continue
        if values.dtype.kind in "iufb":
            kinds[col] = "numeric"
            continue
        text = values.astype(str)
        sample = text.head(200)
        if len(sample) and sample.map(lambda v: bool(_DATE.match(v))).mean() > 0.9:
            kinds[col] = "datetime"
        elif len(text) and text.str.split().str.len().mean() >= TEXT_WORDS and text.nunique() > 0.5 * len(text):
            kinds[col] = "text"
        elif len(text) >= 20 and text.nunique() > 0.95 * len(text):
            kinds[col] = "identifier"
        else:
            kinds[col] = "categorical"
    return kinds


def model_inputs(frame: pd.DataFrame, features: list[str], kinds: dict[str, str], source: Any) -> pd.DataFrame:
    """The feature columns of ``frame`` in training order, numeric ones as numbers: what the
    fitted pipelines take.

    :param source: the file (or "JSON input") the rows came from, named in errors.
    :raises DataError: a feature column is missing, or a numeric one holds text.
    """
    import pandas as pd
    from mltasks.errors import DataError

    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} that the model was trained on")
    X = frame[features].copy()
    for col in features:
        if kinds.get(col) == "numeric" and X[col].dtype.kind not in "iufb":
            values = pd.to_numeric(X[col], errors="coerce")
            bad = X[col].notna() & values.isna()
            if bad.any():
                raise DataError(f"{source}: column {col!r} should be numeric; got {X[col][bad].iloc[0]!r}")
            X[col] = values.astype(float)
    return X


def date_parts(frame: Any) -> Any:
    """Year, month, day, weekday and day of year of each datetime column (NaN where unparsable)."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(frame)
    parts = []
    for col in frame.columns:
        when = pd.to_datetime(frame[col].astype("string"), errors="coerce", format="mixed")
        parts += [when.dt.year, when.dt.month, when.dt.day, when.dt.day_of_week, when.dt.day_of_year]
    return np.column_stack([p.to_numpy(dtype=float, na_value=np.nan) for p in parts])


def as_text(column: Any) -> Any:
    """One text column as a 1-D array of strings (missing -> empty), for the hashing vectorizer."""
    import pandas as pd

    series = pd.DataFrame(column).iloc[:, 0]
    return series.astype("string").fillna("").to_numpy(dtype=object)


def as_object(frame: Any) -> Any:
    """Categorical columns as an object array with None for missing (one dtype for the encoder)."""
    import pandas as pd

    frame = pd.DataFrame(frame).astype(object)
    return frame.where(frame.notna(), None).to_numpy(dtype=object)


def preprocessor(kinds: dict[str, str], *, max_categories: int, text_columns: str, scale: bool = True) -> Any:
    """The ``ColumnTransformer`` for these column kinds (unfitted; dense output)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    def of(kind: str) -> list[str]:
        return [c for c, k in kinds.items() if k == kind]

    parts: list[tuple[str, Any, Any]] = []
    if of("numeric"):
        steps = [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)]
        parts.append(("numeric", make_pipeline(*steps, *([StandardScaler()] if scale else [])), of("numeric")))
    if of("categorical"):
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories,
                                min_frequency=2, sparse_output=False)
        impute = SimpleImputer(strategy="constant", fill_value="(missing)", missing_values=None)
        parts.append(("categorical", make_pipeline(FunctionTransformer(as_object), impute, encoder),
                      of("categorical")))
    if of("datetime"):
        dates = [FunctionTransformer(date_parts), SimpleImputer(strategy="median", keep_empty_features=True)]
        parts.append(("datetime", make_pipeline(*dates, *([StandardScaler()] if scale else [])), of("datetime")))
    if text_columns == "hash":
        for col in of("text"):
            hasher = HashingVectorizer(n_features=HASH_FEATURES, alternate_sign=False, norm="l2")
            parts.append((f"text:{col}", make_pipeline(FunctionTransformer(as_text), hasher), [col]))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True)
