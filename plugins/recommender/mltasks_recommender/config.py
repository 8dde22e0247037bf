"""Options of the ``recommender`` task (standard library only: ``mltasks info`` imports this)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mltasks import TaskConfig
from mltasks.errors import ConfigError

#: Per-model defaults used where ``iterations``, ``regularization`` or ``learning_rate`` is left at 0
#: (ALS: measured on MovieLens small; BPR and LMF: implicit's own defaults).
MODEL_DEFAULTS: dict[str, dict[str, float]] = {
    "als": {"iterations": 15, "regularization": 0.05, "learning_rate": 0.0},
    "bpr": {"iterations": 100, "regularization": 0.01, "learning_rate": 0.01},
    "lmf": {"iterations": 30, "regularization": 0.6, "learning_rate": 1.0},
}


@dataclass(frozen=True)
class RecommenderConfig(TaskConfig):
    """Implicit-feedback recommendation: model, hyperparameters, data columns and split."""

    #: ``--quick``: 16 factors (on the first 120 users; iterations=0 is then 5, BPR 100); every value you
    #: set yourself wins.
    quick_presets: ClassVar[dict[str, Any]] = {"factors": 16}

    model: Literal["als", "bpr", "lmf"] = field(
        default="als",
        metadata={"help": "implicit model: als (alternating least squares), bpr (Bayesian personalised "
                          "ranking) or lmf (logistic matrix factorisation); a popularity baseline is always "
                          "reported beside it"},
    )
    factors: int = field(default=64, metadata={"help": "number of latent factors"})
    iterations: int = field(
        default=0, metadata={"help": "training iterations (epochs); 0 = the model's default (ALS 15, BPR 100, LMF 30)"}
    )
    regularization: float = field(
        default=0.0, metadata={"help": "L2 regularisation; 0 = the model's default (ALS 0.05, BPR 0.01, LMF 0.6)"}
    )
    learning_rate: float = field(
        default=0.0, metadata={"help": "SGD learning rate for bpr/lmf; 0 = the model's default (BPR 0.01, LMF 1.0)"}
    )
    alpha: float = field(
        default=0.0,
        metadata={"help": "confidence scale: an interaction's weight is alpha x its weighted value; ALS and LMF "
                          "use it, BPR ignores weights. 0 = auto: 1 for ratings; for counts (each weighting scaled "
                          "to mean 1) chosen on validation among 1-1000"},
    )
    confidence: Literal["auto", "binary", "linear", "log", "bm25", "tfidf", "rating"] = field(
        default="auto",
        metadata={"help": "how a kept interaction's value becomes confidence: binary (1), linear (the value; "
                          "'rating' is the same), log (1 + log(1 + value)), bm25 or tfidf (implicit's "
                          "nearest_neighbours weightings); auto = binary for ratings (measured best on MovieLens), "
                          "the best of linear/log/bm25/tfidf on validation for counts. Duplicates of a user-item "
                          "pair are summed first"},
    )
    value_kind: Literal["auto", "rating", "count"] = field(
        default="auto",
        metadata={"help": "what the value column holds: rating (explicit, a fixed scale: min_rating applies) or "
                          "count (implicit plays/purchases/visits: min_rating does not apply, 0 counts are dropped); "
                          "auto detects it (whole numbers with a long right tail: count)"},
    )
    min_rating: float = field(
        default=4.0,
        metadata={"help": "ratings only: keep interactions whose rating is at least this (MovieLens: 4 of 5 stars "
                          "= liked); 0 keeps all; ignored for counts and when the data has no value column"},
    )
    k: int = field(default=10, metadata={"help": "length of the recommendation lists scored and predicted (the @k)"})
    holdout: int = field(
        default=5, metadata={"help": "interactions per user held out for the test split, and as many for validation"}
    )
    min_train_items: int = field(
        default=5,
        metadata={"help": "a user is held out only if this many interactions stay in train; users with fewer "
                          "than 2 x holdout + this are kept in train only"},
    )
    split: Literal["random", "latest"] = field(
        default="random",
        metadata={"help": "which interactions a user leaves out: random (seeded) or latest (needs a timestamp "
                          "column; val holds the ones just before test)"},
    )
    user_col: str = field(default="", metadata={"help": "user column name; empty = auto-detect (user, userId, ...)"})
    item_col: str = field(default="", metadata={"help": "item column name; empty = auto-detect (item, movieId, ...)"})
    rating_col: str = field(
        default="", metadata={"help": "rating/weight column name; empty = auto-detect (rating, count, ...) if any"}
    )
    time_col: str = field(
        default="", metadata={"help": "timestamp column name; empty = auto-detect (timestamp, time, date) if any"}
    )
    eval_every: int = field(
        default=0,
        metadata={"help": "report validation metrics every N iterations (learning curve, tuner pruning); "
                          "0 = once, after training (fastest)"},
    )

    def __post_init__(self) -> None:
        positive: dict[str, int] = {"factors": self.factors, "k": self.k, "holdout": self.holdout}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"config key {name!r} must be at least 1, got {value}")
        non_negative: dict[str, float] = {
            "iterations": self.iterations, "regularization": self.regularization,
            "learning_rate": self.learning_rate, "min_train_items": self.min_train_items,
            "eval_every": self.eval_every,
        }
        for name, amount in non_negative.items():
            if amount < 0:
                raise ConfigError(f"config key {name!r} must be >= 0, got {amount}")
        if self.alpha < 0:
            raise ConfigError(f"config key 'alpha' must be >= 0 (0 = auto), got {self.alpha}")
        for name in ("regularization", "learning_rate", "alpha", "min_rating"):
            if not math.isfinite(getattr(self, name)):  # nan passes every comparison above
                raise ConfigError(f"config key {name!r} must be a finite number, got {getattr(self, name)}")

    def resolved(self, name: str) -> float:
        """``iterations``, ``regularization`` or ``learning_rate``, with 0 replaced by the model's default."""
        value = getattr(self, name)
        return value if value else MODEL_DEFAULTS[self.model][name]
