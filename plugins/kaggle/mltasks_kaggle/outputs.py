"""What a kaggle run leaves in its folder: ``submission.csv``, ``leaderboard.csv``,
``oof_predictions.csv``, the EDA tables and plots, and permutation feature importances."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from mltasks import Report, Splits, plots

from mltasks_kaggle.data import Table
from mltasks_kaggle.eda import add_eda
from mltasks_kaggle.features import model_inputs
from mltasks_kaggle.submission import submission_format, write_submission

if TYPE_CHECKING:
    from mltasks_kaggle.task import KaggleTask

TOP_IMPORTANCES = 20


def build_report(task: KaggleTask, splits: Splits, run_dir: Path, test_predictions: Any = None) -> Report:
    """Write every output file into ``run_dir`` and describe them in a :class:`Report`.

    :param test_predictions: what ``evaluate`` predicted for the test rows, when it did (a
        labelled test split); otherwise they are computed here.
    """
    report = Report()
    schema = task.schema_
    train: Table = splits.train
    test: Table | None = splits.test
    add_eda(report, run_dir, train.frame, test.frame if test is not None else None, target=schema.target,
            problem=schema.problem, features=schema.features, kinds=task.kinds_, dropped=schema.dropped,
            seed=task.config.data_seed)
    _leaderboard(task, report, run_dir)
    if test is not None:
        _test_predictions(task, test, report, run_dir, test_predictions)
    if task.oof_ is not None:  # None for a task loaded from a run: that run holds them already
        oof = run_dir / "oof_predictions.csv"
        task.oof_.to_csv(oof, index=False)
        report.add_artifact(oof)
        if schema.problem != "regression" and len(schema.classes) <= 30:
            report.add_figure("Confusion matrix (out-of-fold)", plots.confusion_matrix(
                run_dir / "confusion_matrix.png", task.oof_[schema.target].tolist(),
                task.oof_["oof_prediction"].tolist(), schema.classes,
                title=f"{task.best_}: out-of-fold predictions"))
    if task.config.importance_rows:
        _importances(task, train, report, run_dir)
    return report


def _leaderboard(task: KaggleTask, report: Report, run_dir: Path) -> None:
    path = run_dir / "leaderboard.csv"
    pd.DataFrame(task.leaderboard_).to_csv(path, index=False)
    metric = task.metric_
    refit = "the blend of its members, each refit" if task.best_.startswith("blend(") else "refit"
    why = f" (ranked by `{metric}`: {task.metric_reason_})" if task.metric_reason_ else ""
    report.add_section("Model selection", f"Best by cross-validated `{metric}` (greater is better){why}: "
                                          f"**{task.best_}**, {refit} on all training rows.")
    report.add_table("Leaderboard (cross-validation, mean over folds)", task.leaderboard_)
    report.add_figure("Leaderboard", plots.bar_chart(
        run_dir / "leaderboard.png", {r["model"]: r[metric] for r in task.leaderboard_},
        f"cross-validated {metric}", metric))
    report.add_artifact(path)


def _test_predictions(task: KaggleTask, test: Table, report: Report, run_dir: Path, pred: Any = None) -> None:
    schema = task.schema_
    if pred is None or len(pred) != len(test):
        pred = task.predict_frame(test.frame, test.source)
    ids = test.frame[schema.id_column] if schema.id_column and schema.id_column in test.frame else None
    if test.labelled or test.submission is None:  # a held-out split: predictions beside the truth
        name = "test_predictions.csv"
        fmt = submission_format(None, test.frame, test.source, schema, task.config.submission)
    else:
        name, fmt = "submission.csv", test.submission
    path = write_submission(run_dir / name, fmt, ids=ids, classes=schema.classes, pred=pred)
    what = {"probability": "probabilities", "value": "values", "label": "labels"}[fmt.kind]
    layout = f"the format of `{fmt.sample.name}`" if fmt.sample is not None else f"columns {', '.join(fmt.columns)}"
    report.add_section("Submission" if name == "submission.csv" else "Test predictions",
                       f"`{name}`: {len(test)} rows of {what} by **{task.best_}**, in {layout}.")
    report.add_artifact(path)


def _importances(task: KaggleTask, train: Table, report: Report, run_dir: Path) -> None:
    """Permutation importance of each raw column (on up to ``importance_rows`` training rows)."""
    from sklearn.inspection import permutation_importance

    schema = task.schema_
    frame = train.frame
    rows = min(task.config.importance_rows, len(frame))
    if rows < len(frame):
        frame = frame.sample(n=rows, random_state=task.config.seed)
    X = model_inputs(frame, schema.features, task.kinds_, train.source)
    repeats = 2 if task.config.smoke or len(X.columns) > 30 else 3
    result = permutation_importance(task.model_, X, frame[schema.target], scoring=task.metric_,
                                    n_repeats=repeats, random_state=task.config.seed)
    table: list[dict[str, Any]] = sorted(
        ({"feature": c, "importance": float(m), "std": float(s)}
         for c, m, s in zip(schema.features, result.importances_mean, result.importances_std)),
        key=lambda r: -r["importance"])
    path = run_dir / "feature_importances.csv"
    pd.DataFrame(table).to_csv(path, index=False)
    top = table[:TOP_IMPORTANCES]
    png = run_dir / "feature_importances.png"
    with plots.figure(png, size=(7.0, max(3.0, 0.32 * len(top) + 1.2))) as ax:
        ax.barh([r["feature"] for r in reversed(top)], [r["importance"] for r in reversed(top)],
                xerr=[r["std"] for r in reversed(top)], color="#4c72b0")
        ax.set_xlabel(f"drop in {task.metric_} when shuffled")
        ax.set_title(f"Permutation importances ({task.best_}, {rows} training rows)")
    report.add_figure("Feature importances", png)
    report.add_table(f"Top {len(top)} features (permutation importance)", top)
    report.add_artifact(path)
