"""The default model: one epoch of MiniLM fine-tuning beside TF-IDF, probabilities blended on validation.

Measured alternatives (``benchmarks/text.py``, README): frozen MiniLM sentence embeddings +
logistic regression lost to TF-IDF on both data sets (-3.3 and -6.1 points: general-purpose
sentence embeddings miss the style of the fortune categories and the sentiment of food
reviews), and blended with TF-IDF they gained +5.3 and only +0.7 points. Fine-tuning is what
gains, and its cost is per pass, so the default fine-tunes one epoch (+5.1 and +2.8 alone);
TF-IDF costs seconds to a minute and catches what one epoch has not learned yet (word and
character n-grams), so the two are averaged (+8.8 and +4.1)::

    p = w * p_transformer + (1 - w) * p_tfidf,   w in {0, 0.1, ..., 1} chosen on validation

``w = 1`` is the transformer alone and ``w = 0`` TF-IDF alone, so on validation the blend is
never worse than either part. Saved as the two parts' own files side by side plus ``blend.json``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mltasks_text.neural import NeuralClassifier
from mltasks_text.tfidf import TfidfClassifier

if TYPE_CHECKING:
    from mltasks import Progress, RunContext

    from mltasks_text.config import TextConfig
    from mltasks_text.data import TextDataset

WEIGHT_FILE = "blend.json"
#: transformer weights tried on validation (0: TF-IDF alone, 1: the transformer alone).
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


def choose_weight(p_transformer: np.ndarray, p_tfidf: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The transformer weight of :data:`WEIGHTS` whose blend is most accurate on ``truth``, and that accuracy.

    Ties go to the lower log-loss (a better-calibrated blend), then to the larger weight.

    :param p_transformer: (N, C) probabilities; :param p_tfidf: (N, C); :param truth: (N,) class indices.
    """
    best: tuple[float, float, float] | None = None  # (accuracy, -log-loss, weight)
    for w in WEIGHTS:
        blend = w * p_transformer + (1.0 - w) * p_tfidf  # (N, C)
        accuracy = float((blend.argmax(axis=1) == truth).mean()) if len(truth) else 0.0
        loss = float(-np.log(np.clip(blend[np.arange(len(truth)), truth], 1e-12, None)).mean()) if len(truth) else 0.0
        key = (accuracy, -loss, w)
        if best is None or key > best:
            best = key
    assert best is not None
    return best[2], best[0]


class BlendClassifier:
    """A fine-tuned encoder (:class:`NeuralClassifier`) and TF-IDF (:class:`TfidfClassifier`), blended.

    :param config: the task's config (``model="blend"``; the parts get ``transformer`` / ``tfidf``).
    :param labels: class names, in the order of the probability columns.
    """

    def __init__(self, config: TextConfig, labels: list[str]) -> None:
        self.config = config
        self.labels = labels
        self.transformer = NeuralClassifier(replace(config, model="transformer"), labels)
        self.tfidf = TfidfClassifier(replace(config, model="tfidf"), labels)
        #: the transformer's share of the blend, chosen on validation
        self.weight = 0.5
        self.val_scores: dict[str, float] = {}

    # the report and describe() read these like a NeuralClassifier's
    @property
    def model(self):  # type: ignore[no-untyped-def]
        """The fine-tuned network."""
        return self.transformer.model

    @property
    def best_epoch(self) -> int | None:
        """The transformer's best epoch."""
        return self.transformer.best_epoch

    def fit(self, train: TextDataset, val: TextDataset | None, progress: Progress,
            context: RunContext | None = None, budget: tuple[int, int | None] | None = None) -> BlendClassifier:
        """Fit TF-IDF (seconds), fine-tune the transformer, then choose the weight on ``val``.

        Without validation texts the weight stays 0.5.
        """
        import time

        began = time.perf_counter()
        self.tfidf.fit(train)
        has_val = val is not None and len(val) > 0
        p_tfidf = self.tfidf.predict_proba(val.texts) if has_val and val is not None else None
        truth = np.asarray([self.labels.index(y) for y in val.labels]) if has_val and val is not None else None
        if p_tfidf is not None and truth is not None:
            self.val_scores["tfidf"] = float((p_tfidf.argmax(axis=1) == truth).mean())
            progress.log(f"blend: TF-IDF fitted in {time.perf_counter() - began:.1f} s, validation accuracy "
                         f"{self.val_scores['tfidf']:.3f}; fine-tuning the transformer next")
        self.transformer.fit(train, val, progress, context, budget=budget)
        if p_tfidf is None or truth is None or val is None:
            progress.log("blend: no validation texts; the two models are averaged with weight 0.5")
            return self
        p_transformer = self.transformer.predict_proba(val.texts)
        self.val_scores["transformer"] = float((p_transformer.argmax(axis=1) == truth).mean())
        self.weight, self.val_scores["blend"] = choose_weight(p_transformer, p_tfidf, truth)
        progress.log(f"blend: validation accuracy TF-IDF {self.val_scores['tfidf']:.3f}, transformer "
                     f"{self.val_scores['transformer']:.3f}, blend {self.val_scores['blend']:.3f} with weight "
                     f"{self.weight:.1f} on the transformer")
        return self

    def parts_proba(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Each part's probabilities (N, C): ``{"transformer": ..., "tfidf": ...}``."""
        return {"transformer": self.transformer.predict_proba(list(texts)),
                "tfidf": self.tfidf.predict_proba(list(texts))}

    def blend(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """The blended probabilities (N, C) of :meth:`parts_proba`'s output."""
        return self.weight * parts["transformer"] + (1.0 - self.weight) * parts["tfidf"]

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Blended class probabilities ``(N, C)``."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        return self.blend(self.parts_proba(texts))

    def save(self, directory: Path) -> None:
        """Both parts' files (``encoder/``, ``head.safetensors``, ``tfidf_pipeline.skops``...) and ``blend.json``."""
        directory = Path(directory)
        self.transformer.save(directory)
        self.tfidf.save(directory)
        (directory / WEIGHT_FILE).write_text(json.dumps({"weight": self.weight, "validation": self.val_scores}))

    @classmethod
    def load(cls, directory: Path, config: TextConfig, labels: list[str]) -> BlendClassifier:
        """Read what :meth:`save` wrote.

        :raises MltasksError: a file is missing or corrupt (the message names it).
        """
        from mltasks.errors import DataError
        from mltasks.rundir import read_json

        directory = Path(directory)
        obj = cls(config, labels)
        saved = read_json(directory / WEIGHT_FILE)
        weight = saved.get("weight") if isinstance(saved, dict) else None
        if not isinstance(weight, (int, float)) or not 0.0 <= float(weight) <= 1.0:
            raise DataError(f"{directory / WEIGHT_FILE}: no blend weight between 0 and 1")
        obj.weight = float(weight)
        obj.val_scores = {k: float(v) for k, v in (saved.get("validation") or {}).items()
                          if isinstance(v, (int, float))}
        obj.transformer = NeuralClassifier.load(directory, replace(config, model="transformer"), labels)
        obj.tfidf = TfidfClassifier.load(directory, replace(config, model="tfidf"), labels)
        return obj
