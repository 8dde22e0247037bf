"""The fast baseline: TF-IDF word and character n-grams into a linear classifier (scikit-learn).

Saved with skops through :mod:`mltasks.sklearn_io`, loaded only if it holds nothing beyond the
exact types of :data:`mltasks_text.saved_types.SAVED_TYPES`, so opening a run directory never
runs code. The two
vocabularies go beside it as one JSON list of terms each: skops writes every entry of a
``vocabulary_`` dict as its own node (42 s and 18 MB for 15k terms), a list takes milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mltasks_text.config import TextConfig
    from mltasks_text.data import TextDataset

FILE = "tfidf_pipeline.skops"
VOCABULARY_FILE = "tfidf_vocabulary.json"
#: What older versions wrote (a pickle): refused, never loaded.
OLD_FILE = "tfidf_pipeline.joblib"


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

    def _vectorizers(self) -> dict[str, Any]:
        return dict(self.pipeline.named_steps["tfidf"].transformer_list)

    def save(self, directory: Path) -> None:
        """Write the fitted pipeline with skops (its trusted-type list beside it) and the vocabularies as JSON."""
        from mltasks.cache import atomic_file
        from mltasks.sklearn_io import save

        from mltasks_text.saved_types import SAVED_TYPES

        directory = Path(directory)
        vectorizers = self._vectorizers()
        vocabularies = {name: vec.vocabulary_ for name, vec in vectorizers.items()}
        terms = {name: sorted(vocab, key=vocab.__getitem__) for name, vocab in vocabularies.items()}  # by column
        try:
            for vec in vectorizers.values():
                vec.vocabulary_ = {}
            save(self.pipeline, directory / FILE, SAVED_TYPES)
        finally:
            for name, vec in vectorizers.items():
                vec.vocabulary_ = vocabularies[name]
        with atomic_file(directory / VOCABULARY_FILE, "w", encoding="utf-8") as fh:
            json.dump(terms, fh, ensure_ascii=False)

    @classmethod
    def load(cls, directory: Path, config: TextConfig, labels: list[str]) -> TfidfClassifier:
        """Read a pipeline written by :meth:`save`.

        :raises MltasksError: a file is missing or corrupt, or holds a type outside the saved list
            (the message names the file).
        """
        from mltasks.errors import DataError
        from mltasks.rundir import read_json
        from mltasks.sklearn_io import load

        from mltasks_text.saved_types import SAVED_TYPES

        directory = Path(directory)
        if not (directory / FILE).is_file() and (directory / OLD_FILE).is_file():
            raise DataError(f"{directory / OLD_FILE}: a pickled pipeline from an older mltasks-text; pickles are "
                            "never loaded: train the run again")
        model = cls(config, labels)
        model.pipeline = load(directory / FILE, SAVED_TYPES)
        terms = read_json(directory / VOCABULARY_FILE)
        try:
            vectorizers = model._vectorizers()
        except (AttributeError, KeyError, TypeError):
            raise DataError(f"{directory / FILE}: not a TF-IDF pipeline written by mltasks-text") from None
        for name, vec in vectorizers.items():
            words = terms.get(name) if isinstance(terms, dict) else None
            if not isinstance(words, list) or len(words) != len(getattr(vec, "idf_", ())):
                raise DataError(f"{directory / VOCABULARY_FILE}: the {name!r} vocabulary does not fit {FILE}")
            vec.vocabulary_ = {str(t): i for i, t in enumerate(words)}
        return model
