"""The exact types a saved TF-IDF pipeline may hold: the allow-list ``mltasks.sklearn_io``
checks ``tfidf_pipeline.skops`` against before it builds anything from it.

Written here, in the plugin's code, never read from a run directory. Both classifiers
(``logreg``, ``svm``) are covered; the plugin's tests save each.
"""

from __future__ import annotations

SAVED_TYPES = frozenset({
    "sklearn.pipeline.Pipeline",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.svm._classes.LinearSVC",
})
