"""Exploratory data analysis for the report: shape, column types, missing values, the target's
distribution and the features most related to the target (mutual information and, for numeric
columns, correlation), as tables, CSV files and PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mltasks import Report, plots

TOP = 15


def column_table(train: pd.DataFrame, test: pd.DataFrame | None, kinds: dict[str, str],
                 dropped: dict[str, str]) -> list[dict[str, Any]]:
    """One row per column: dtype, kind, missing values in train (and test), distinct values."""
    rows = []
    for col in train.columns:
        missing = int(train[col].isna().sum())
        row: dict[str, Any] = {"column": str(col), "dtype": str(train[col].dtype),
                               "kind": kinds.get(col, "not used"), "missing": missing,
                               "missing_%": round(100.0 * missing / max(len(train), 1), 1),
                               "distinct": int(train[col].nunique())}
        if test is not None:
            row["missing_test"] = int(test[col].isna().sum()) if col in test.columns else "absent"
        row["note"] = dropped.get(col, "")
        rows.append(row)
    return rows


def relevance(train: pd.DataFrame, features: list[str], kinds: dict[str, str], target: str,
              problem: str, seed: int) -> list[dict[str, Any]]:
    """Mutual information of each used feature with the target (and |correlation| for numeric ones)."""
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    used = [c for c in features if kinds.get(c) in ("numeric", "categorical")]
    if not used:
        return []
    X = pd.DataFrame(index=train.index)
    discrete = []
    for col in used:
        if kinds[col] == "numeric":
            X[col] = train[col].astype(float).fillna(train[col].median())
            discrete.append(False)
        else:
            X[col] = pd.factorize(train[col].astype("string").fillna("(missing)"))[0]
            discrete.append(True)
    y = train[target]
    if problem == "regression":
        mi = mutual_info_regression(X, y.astype(float), discrete_features=discrete, random_state=seed)
        y_num = y.astype(float)
    else:
        mi = mutual_info_classif(X, y.astype(str), discrete_features=discrete, random_state=seed)
        y_num = pd.Series(pd.factorize(y)[0], index=y.index).astype(float) if problem == "binary" else None
    rows = []
    for col, value in zip(used, mi):
        row: dict[str, Any] = {"feature": col, "mutual_information": float(value)}
        if y_num is not None and kinds[col] == "numeric" and X[col].std() > 0:
            row["correlation"] = float(np.corrcoef(X[col], y_num)[0, 1])
        rows.append(row)
    rows.sort(key=lambda r: -r["mutual_information"])
    return rows[:TOP]


def target_distribution(y: pd.Series, problem: str) -> list[dict[str, Any]]:
    """Class counts, or a five-number summary for a regression target."""
    if problem == "regression":
        q = y.astype(float).describe()
        return [{"statistic": k, "value": float(q[k])} for k in ("mean", "std", "min", "25%", "50%", "75%", "max")]
    counts = y.value_counts()
    return [{"class": str(k), "count": int(v), "share": round(float(v) / len(y), 4)} for k, v in counts.items()]


def add_eda(report: Report, run_dir: Path, train: pd.DataFrame, test: pd.DataFrame | None, *,
            target: str, problem: str, features: list[str], kinds: dict[str, str], dropped: dict[str, str],
            seed: int) -> None:
    """Write the EDA tables (CSV) and plots (PNG) into ``run_dir/eda`` and add them to ``report``."""
    out = run_dir / "eda"
    out.mkdir(parents=True, exist_ok=True)
    shape = f"train: {train.shape[0]} rows × {train.shape[1]} columns"
    if test is not None:
        shape += f"; test: {test.shape[0]} rows × {test.shape[1]} columns"
    counts = pd.Series(kinds).value_counts().to_dict()
    kinds_text = ", ".join(f"{v} {k}" for k, v in counts.items())
    lines = [f"- {shape}", f"- target `{target}` ({problem}); features by kind: {kinds_text}"]
    lines += [f"- not used: `{c}`: {why}" for c, why in dropped.items()]
    report.add_section("Data", "\n".join(lines))

    columns = column_table(train, test, kinds, dropped)
    pd.DataFrame(columns).to_csv(out / "columns.csv", index=False)
    report.add_table("Columns (dtypes, missing values)", columns)
    report.add_artifact(out / "columns.csv")
    missing = {r["column"]: r["missing_%"] for r in columns if r["missing"]}
    if missing:
        top = dict(sorted(missing.items(), key=lambda kv: -kv[1])[:20])
        report.add_figure("Missing values (% of train rows)",
                          plots.bar_chart(out / "missing.png", top, "Missing values", "% of rows"))

    distribution = target_distribution(train[target], problem)
    report.add_table("Target distribution", distribution)
    report.add_figure("Target distribution", _target_plot(out / "target.png", train[target], problem, target))

    related = relevance(train, features, kinds, target, problem, seed)
    if related:
        pd.DataFrame(related).to_csv(out / "relevance.csv", index=False)
        report.add_table(f"Top {len(related)} features by mutual information with the target", related)
        report.add_figure("Mutual information with the target", plots.bar_chart(
            out / "mutual_information.png", {r["feature"]: r["mutual_information"] for r in related},
            "Mutual information with the target", "nats"))
        report.add_artifact(out / "relevance.csv")


def _target_plot(path: Path, y: pd.Series, problem: str, target: str) -> Path:
    if problem != "regression":
        counts = y.value_counts()
        return plots.bar_chart(path, {str(k): float(v) for k, v in counts.items()}, f"{target}: classes", "rows")
    with plots.figure(path) as ax:
        ax.hist(y.astype(float), bins=40, color="#4c72b0")
        ax.set_xlabel(target)
        ax.set_ylabel("rows")
        ax.set_title(f"{target}: distribution")
    return path
