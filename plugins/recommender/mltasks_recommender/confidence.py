"""Turning interaction values into the confidence the models train on.

The standard weightings of implicit feedback (Hu, Koren and Volinsky 2008; implicit's
``nearest_neighbours`` module), for a user x items matrix of values ``c``:

- ``binary``: 1 for every pair (what was kept is liked; the default for ratings);
- ``linear`` (also ``rating``): ``c`` itself;
- ``log``: ``1 + log(1 + c)``, which tames a long tail of counts;
- ``bm25``: implicit's ``bm25_weight`` (K1 = 100, B = 0.8) over items as documents and users as
  terms, as implicit's Last.fm example does: a pair counts less for a user who plays everything
  and is saturated for an item played far more than most;
- ``tfidf``: implicit's ``tfidf_weight``: ``sqrt(c)`` times the user's inverse frequency.

On counts every weighting is then scaled to mean 1 over the training pairs, so that ``alpha``
(ALS's and LMF's confidence scale) is the mean confidence of a played pair whatever the
weighting, and weightings are compared at the same scale.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Every weighting ``confidence`` may name ("rating" is the older name of "linear").
SCHEMES = ("binary", "linear", "log", "bm25", "tfidf")
#: The weightings compared on validation for counts.
COUNT_SCHEMES = ("linear", "log", "bm25", "tfidf")
#: BM25's saturation and length normalisation (implicit's Last.fm example).
BM25_K1, BM25_B = 100.0, 0.8
#: Smallest weight kept: implicit's BM25/TF-IDF inverse frequency is <= 0 for a user who
#: interacted with (nearly) every item, and a zero or negative confidence would mean "disliked".
MIN_WEIGHT = 1e-3


def scheme_name(confidence: str) -> str:
    """The weighting a ``confidence`` value names (``rating`` -> ``linear``)."""
    return "linear" if confidence == "rating" else confidence


def weigh(values: sp.csr_matrix, scheme: str, normalize: bool = False) -> sp.csr_matrix:
    """The users x items confidence matrix (float32) for raw ``values`` under ``scheme``.

    :param normalize: scale the weights to mean 1 over the stored pairs (counts).
    """
    from implicit.nearest_neighbours import bm25_weight, tfidf_weight

    scheme = scheme_name(scheme)
    m = sp.csr_matrix(values, dtype=np.float64, copy=True)
    m.sort_indices()
    if scheme == "binary":
        m.data[:] = 1.0
    elif scheme == "log":
        m.data = 1.0 + np.log1p(m.data)
    elif scheme in ("bm25", "tfidf"):
        weighted = bm25_weight(m.T, K1=BM25_K1, B=BM25_B) if scheme == "bm25" else tfidf_weight(m.T)
        m = sp.csr_matrix(weighted.T, dtype=np.float64)
        m.sort_indices()
        m.data = np.maximum(m.data, MIN_WEIGHT)
    elif scheme != "linear":
        raise ValueError(f"unknown weighting {scheme!r}; one of {', '.join(SCHEMES)}")
    if normalize and m.nnz:
        m.data /= m.data.mean()
    return m.astype(np.float32)
