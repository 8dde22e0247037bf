"""The leaderboard's models (linear, random forest, histogram gradient boosting), each one
scikit-learn ``Pipeline`` (preprocessing + estimator), and :class:`Blend`, the average of the
top models."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone

from mltasks_kaggle.config import KaggleConfig
from mltasks_kaggle.features import preprocessor


def estimator(name: str, problem: str, config: KaggleConfig) -> Any:
    """An unfitted estimator for a model name and problem type, with the config's hyperparameters."""
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge

    classify = problem != "regression"
    seed = config.seed
    if name == "linear":
        if classify:
            return LogisticRegression(C=config.linear_c, max_iter=2000)
        return Ridge(alpha=1.0 / config.linear_c)
    if name == "rf":
        rf = RandomForestClassifier if classify else RandomForestRegressor
        return rf(n_estimators=config.rf_n_estimators, max_features=config.rf_max_features,
                  min_samples_leaf=config.rf_min_samples_leaf, random_state=seed,
                  n_jobs=config.num_threads or -1)  # trees are seeded: any n_jobs gives the same forest
    if name == "hgb":
        hgb = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        # no early stopping: it would hold out rows of its own, unlike the other models
        return hgb(learning_rate=config.hgb_learning_rate, max_iter=config.hgb_max_iter,
                   max_depth=config.hgb_max_depth or None, max_leaf_nodes=config.hgb_max_leaf_nodes,
                   l2_regularization=config.hgb_l2, early_stopping=False, random_state=seed)
    raise ValueError(f"unknown model {name!r}")


def pipeline(name: str, problem: str, kinds: dict[str, str], config: KaggleConfig) -> Any:
    """Preprocessing + model as one ``Pipeline`` (so CV fits the preprocessing inside each fold)."""
    from sklearn.pipeline import Pipeline

    prep = preprocessor(kinds, max_categories=config.max_categories, text_columns=config.text_columns,
                        scale=name == "linear")
    return Pipeline([("prep", prep), ("model", estimator(name, problem, config))])


class BlendClassifier(ClassifierMixin, BaseEstimator):
    """The average of several classifiers' probabilities (equal weights)."""

    def __init__(self, estimators: list[Any] | None = None) -> None:
        self.estimators = estimators

    def fit(self, X: Any, y: Any) -> BlendClassifier:
        """Fit a clone of every member."""
        return self.set_fitted([clone(e).fit(X, y) for e in self.estimators or []])

    def set_fitted(self, fitted: list[Any]) -> BlendClassifier:
        """Use members that are already fitted (on the same rows)."""
        self.estimators_ = fitted
        self.classes_ = fitted[0].classes_
        return self

    def predict_proba(self, X: Any) -> Any:
        """Mean of the members' ``predict_proba``."""
        return sum(e.predict_proba(X) for e in self.estimators_) / len(self.estimators_)

    def predict(self, X: Any) -> Any:
        """The class with the highest mean probability."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class BlendRegressor(RegressorMixin, BaseEstimator):
    """The average of several regressors' predictions (equal weights)."""

    def __init__(self, estimators: list[Any] | None = None) -> None:
        self.estimators = estimators

    def fit(self, X: Any, y: Any) -> BlendRegressor:
        """Fit a clone of every member."""
        return self.set_fitted([clone(e).fit(X, y) for e in self.estimators or []])

    def set_fitted(self, fitted: list[Any]) -> BlendRegressor:
        """Use members that are already fitted (on the same rows)."""
        self.estimators_ = fitted
        return self

    def predict(self, X: Any) -> Any:
        """Mean of the members' predictions."""
        return sum(e.predict(X) for e in self.estimators_) / len(self.estimators_)


def blend(fitted: list[Any], problem: str) -> Any:
    """A blend of already fitted models."""
    cls = BlendRegressor if problem == "regression" else BlendClassifier
    return cls(estimators=None).set_fitted(fitted)
