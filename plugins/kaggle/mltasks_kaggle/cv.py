"""The cross-validated leaderboard: every model on the same K folds, scored with a scikit-learn
scorer (greater is better) plus the usual metrics of the problem type, out-of-fold predictions
kept for the report, and an optional blend of the top models scored on the same folds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mltasks.errors import ConfigError
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    get_scorer,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, StratifiedKFold

from mltasks_kaggle.models import blend

DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "neg_log_loss", "regression": "neg_root_mean_squared_error"}


def scorer(metric: str, problem: str) -> tuple[str, Any]:
    """The metric's name and scikit-learn scorer (default by problem type)."""
    name = metric or DEFAULT_METRIC[problem]
    try:
        return name, get_scorer(name)
    except ValueError:
        raise ConfigError(f"config key 'metric': {name!r} is not a scikit-learn scorer name "
                          "(see sklearn.metrics.get_scorer_names())") from None


def ranking_metric(metric: str, problem: str, submission: str | None) -> tuple[str, str]:
    """The scorer that ranks the leaderboard, and why: the config's ``metric`` when set, else the
    metric the submission will be judged on as far as it can be inferred (labels: accuracy;
    probabilities: ROC AUC for binary, log-loss for multiclass; regression: RMSE).

    :param submission: what the submission holds, "label" or "probability"; None when no
        submission is written (a labelled hold-out): the problem type's default then.
    """
    if metric:
        name, _ = scorer(metric, problem)
        return name, "set with --set metric"
    if problem == "regression":
        return DEFAULT_METRIC[problem], "regression: a submission of values is judged by its error (RMSE)"
    if submission == "label":
        return "accuracy", "the submission holds labels, which are judged by accuracy"
    if submission == "probability":
        what = "ROC AUC" if problem == "binary" else "log-loss"
        return DEFAULT_METRIC[problem], f"the submission holds probabilities, judged by {what}"
    return DEFAULT_METRIC[problem], f"the default for {problem} problems (no submission to infer it from)"


def standard_metrics(problem: str, y: Any, pred: np.ndarray, classes: list[Any]) -> dict[str, float]:
    """Accuracy/ROC AUC/log-loss (binary), accuracy/log-loss/macro F1 (multiclass) or RMSE/MAE/R²."""
    if problem == "regression":
        return {"rmse": float(root_mean_squared_error(y, pred)), "mae": float(mean_absolute_error(y, pred)),
                "r2": float(r2_score(y, pred))}
    # compare class positions, not labels: object arrays of mixed label types confuse sklearn
    position = {c: i for i, c in enumerate(classes)}
    truth = np.asarray([position.get(v, -1) for v in pd.Series(y).tolist()])
    guess = pred.argmax(axis=1)
    out = {"accuracy": float(accuracy_score(truth, guess))}
    if problem == "binary":
        out["roc_auc"] = float(roc_auc_score(truth == 1, pred[:, 1]))
    else:
        out["f1_macro"] = float(f1_score(truth, guess, average="macro", labels=list(range(len(classes)))))
    out["log_loss"] = float(log_loss(truth, np.clip(pred, 1e-15, 1), labels=list(range(len(classes)))))
    return out


def predictions(model: Any, X: pd.DataFrame, problem: str) -> np.ndarray:
    """Class probabilities (rows, classes) or regression values (rows,)."""
    return model.predict(X) if problem == "regression" else model.predict_proba(X)


@dataclass
class Entry:
    """One leaderboard row: a model (or the blend) and its CV results."""

    name: str
    fold_scores: list[float]
    fold_metrics: list[dict[str, float]]
    oof: np.ndarray
    seconds: float
    members: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Mean of the fold scores (greater is better)."""
        return float(np.mean(self.fold_scores))

    def metrics(self, metric: str) -> dict[str, float]:
        """Fold means of every metric, the scorer's value and its spread, and ``cv_score``: the
        scorer's value under one name whatever the metric (greater is better, as in sklearn),
        which ``mltasks tune kaggle`` optimises."""
        names = self.fold_metrics[0].keys()
        out = {k: float(np.mean([m[k] for m in self.fold_metrics])) for k in names}
        out[metric] = self.score
        out[f"{metric}_std"] = float(np.std(self.fold_scores))
        out["cv_score"] = self.score
        return out


def folds(y: pd.Series, problem: str, n_folds: int, seed: int,
          repeats: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """The K folds every model shares: stratified for classification when every class has at
    least K rows (:func:`mltasks.splitting.stratify_labels`), else plain shuffled K-fold.

    :param seed: the data seed (``config.data_seed``): the tuner fixes it so every trial sees
        the same folds.
    :param repeats: more than 1: scikit-learn's repeated K-fold, ``repeats`` differently shuffled
        K-fold partitions one after the other (``repeats * K`` splits), all drawn from ``seed``.
    """
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    stratify = problem != "regression" and stratify_ok(y, n_folds)
    splitter: Any
    if repeats > 1:
        repeated = RepeatedStratifiedKFold if stratify else RepeatedKFold
        splitter = repeated(n_splits=n_folds, n_repeats=repeats, random_state=seed)
    else:  # the plain splitters, so a run without repeats keeps the folds it always had
        single = StratifiedKFold if stratify else KFold
        splitter = single(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y if stratify else None))


def stratify_ok(y: pd.Series, n_folds: int) -> bool:
    """Whether every class has at least K rows, so the folds can be stratified."""
    from mltasks.splitting import stratify_labels

    return stratify_labels(y, len(y) // n_folds, min_per_class=n_folds) is not None


def cross_validate(
    make: Callable[[str], Any],
    names: list[str],
    X: pd.DataFrame,
    y: pd.Series,
    *,
    problem: str,
    classes: list[Any],
    metric: str,
    splits: list[tuple[np.ndarray, np.ndarray]],
    ensemble: int,
    repeats: int = 1,
    on_model: Callable[[str, list[float]], None] | None = None,
    on_repeat: Callable[[str, list[float]], None] | None = None,
) -> list[Entry]:
    """Cross-validate every model on the same folds with scikit-learn's ``cross_validate`` (the
    fold models and indices kept for out-of-fold predictions and the blend); returns the entries
    sorted best first (blend included).

    :param repeats: how many K-fold partitions ``splits`` holds, one after the other (see
        :func:`folds`); a row's out-of-fold prediction is its mean over the repeats.
    :param on_model: called after each model with its name and fold scores (progress).
    :param on_repeat: called after each repeat of a model with its name and the fold scores so
        far (the tuner's pruning: a hopeless configuration stops before the next repeat).
    """
    from sklearn.model_selection import cross_validate as sk_cross_validate

    entries: list[Entry] = []
    fold_models: dict[str, list[Any]] = {}
    per_repeat = len(splits) // repeats
    for name in names:
        started = time.perf_counter()
        total = np.zeros(len(y)) if problem == "regression" else np.zeros((len(y), len(classes)))
        seen = np.zeros(len(y))
        scores: list[float] = []
        fold_metrics: list[dict[str, float]] = []
        fold_models[name] = []
        for r in range(repeats):
            result = sk_cross_validate(make(name), X, y, cv=splits[r * per_repeat:(r + 1) * per_repeat],
                                       scoring=metric, return_estimator=True, return_indices=True,
                                       error_score="raise")
            for model, va in zip(result["estimator"], result["indices"]["test"], strict=True):
                pred = predictions(model, X.iloc[va], problem)
                total[va] += pred
                seen[va] += 1
                fold_metrics.append(standard_metrics(problem, y.iloc[va], pred, classes))
            scores += [float(v) for v in result["test_score"]]
            fold_models[name] += list(result["estimator"])
            if on_repeat is not None:
                on_repeat(name, scores)
        seen = np.maximum(seen, 1)
        oof = total / (seen if total.ndim == 1 else seen[:, None])
        entries.append(Entry(name, scores, fold_metrics, oof, time.perf_counter() - started))
        if on_model is not None:
            on_model(name, scores)
    entries.sort(key=lambda e: -e.score)
    top = entries[: min(ensemble, len(entries))]
    if len(top) >= 2:
        entries.append(_blend_entry(top, fold_models, X, y, problem, classes, get_scorer(metric), splits))
        entries.sort(key=lambda e: -e.score)
    return entries


def _blend_entry(top: list[Entry], fold_models: dict[str, list[Any]], X: pd.DataFrame, y: pd.Series,
                 problem: str, classes: list[Any], score_fn: Any, splits: list[Any]) -> Entry:
    """Score the average of the top models on the same folds, from their fold models."""
    started = time.perf_counter()
    members = [e.name for e in top]
    oof: np.ndarray = np.mean([e.oof for e in top], axis=0)
    scores, metrics = [], []
    for i, (_, va) in enumerate(splits):
        model = blend([fold_models[m][i] for m in members], problem)
        scores.append(float(score_fn(model, X.iloc[va], y.iloc[va])))
        # this split's own predictions: with repeated folds, oof holds the mean over the repeats
        metrics.append(standard_metrics(problem, y.iloc[va], predictions(model, X.iloc[va], problem), classes))
    seconds = sum(e.seconds for e in top) + time.perf_counter() - started
    return Entry("blend(" + "+".join(members) + ")", scores, metrics, oof, seconds, members)


def leaderboard_rows(entries: list[Entry], metric: str) -> list[dict[str, Any]]:
    """The leaderboard as table rows, best first."""
    rows = []
    for rank, entry in enumerate(entries, 1):
        m = entry.metrics(metric)
        row: dict[str, Any] = {"rank": rank, "model": entry.name, metric: m.pop(metric),
                               f"{metric}_std": m.pop(f"{metric}_std")}
        row.update({k: v for k, v in m.items() if k != metric})
        row["cv_seconds"] = round(entry.seconds, 2)
        rows.append(row)
    return rows
