"""The fast baseline: TF-IDF word and character n-grams into a linear classifier (scikit-learn).

Saved with joblib, which pickles: the file is our own fitted pipeline inside a run directory
(trusted like code), never user data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mltasks_text.config import TextConfig
    from mltasks_text.data import TextDataset

FILE = "tfidf_pipeline.joblib"


class TfidfClassifier:
    """Word (1-2) + char_wb (2-5) n-gram TF-IDF with logistic regression or a linear SVM.

    :param config: the task's config (``classifier``, ``C``, ``max_features``, ``seed``).
    :param labels: the class names, in the order of the probability columns.
    """

    def __init__(self, config: TextConfig, labels: list[str]) -> None:
        self.config = config
        self.labels = labels
        self.pipeline: Any = None

    def build(self):  # type: ignore[no-untyped-def]
        """The unfitted scikit-learn pipeline."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline
        from sklearn.svm import LinearSVC

        cfg = self.config
        features = FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=cfg.max_features,
                                     strip_accents="unicode", lowercase=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                     max_features=cfg.max_features, lowercase=True)),
        ])
        if cfg.classifier == "logreg":
            clf = LogisticRegression(C=cfg.C, max_iter=2000, class_weight="balanced", random_state=cfg.seed)
        else:
            clf = LinearSVC(C=cfg.C / 10, class_weight="balanced", random_state=cfg.seed)
        return Pipeline([("tfidf", features), ("clf", clf)])

    def fit(self, train: TextDataset) -> TfidfClassifier:
        """Fit on the training texts (validation is not needed: no early stopping)."""
        self.pipeline = self.build()
        self.pipeline.fit(train.texts, [self.labels.index(y) for y in train.labels])
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities ``(N, C)``; for the SVM a softmax of its margins (scores, not calibrated)."""
        assert self.pipeline is not None
        classes = list(self.pipeline.classes_)
        if self.config.classifier == "logreg":
            scores = self.pipeline.predict_proba(texts)
        else:
            margins = self.pipeline.decision_function(texts)
            if margins.ndim == 1:  # binary: one margin for the positive class
                margins = np.stack([-margins, margins], axis=1)
            margins = margins - margins.max(axis=1, keepdims=True)
            scores = np.exp(margins) / np.exp(margins).sum(axis=1, keepdims=True)
        out = np.zeros((len(texts), len(self.labels)))
        out[:, classes] = scores  # classes absent from train keep probability 0
        return out

    def save(self, directory: Path) -> None:
        """Write the fitted pipeline with joblib."""
        import joblib

        joblib.dump(self.pipeline, Path(directory) / FILE)

    @classmethod
    def load(cls, directory: Path, config: TextConfig, labels: list[str]) -> TfidfClassifier:
        """Read a pipeline written by :meth:`save` (a trusted run directory)."""
        import joblib

        model = cls(config, labels)
        model.pipeline = joblib.load(Path(directory) / FILE)
        return model
