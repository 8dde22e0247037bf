"""The classical baseline of generate mode: an interpolated Kneser-Ney n-gram language model.

It counts the same tokens the neural model sees (SmolLM2's tokenizer), so both
perplexities are per token of one vocabulary and directly comparable. Interpolated KN
(Chen & Goodman 1998) with one discount per order, ``D = n1 / (n1 + 2 n2)``; lower orders
use continuation counts (how many distinct tokens precede an n-gram), and the lowest
order is interpolated with a uniform distribution over the whole vocabulary, so unseen
tokens keep a non-zero probability. Sequences are padded on the left with ``n - 1``
start markers.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

BOS = -1


class KneserNey:
    """An order-``n`` interpolated Kneser-Ney model over integer tokens of a ``vocab_size`` vocabulary."""

    def __init__(self, order: int, vocab_size: int) -> None:
        self.order = order
        self.vocab_size = vocab_size
        self.counts: list[dict[tuple[int, ...], int]] = [{} for _ in range(order + 1)]  # index k: k-grams
        self.totals: list[dict[tuple[int, ...], int]] = [{} for _ in range(order + 1)]
        self.types: list[dict[tuple[int, ...], int]] = [{} for _ in range(order + 1)]
        self.discounts: list[float] = [0.75] * (order + 1)

    def fit(self, sequences: Iterable[Sequence[int]]) -> KneserNey:
        """Count the n-grams of the token sequences; returns self."""
        n = self.order
        top: Counter[tuple[int, ...]] = Counter()
        for seq in sequences:
            padded = [BOS] * (n - 1) + list(seq)
            for i in range(n - 1, len(padded)):
                top[tuple(padded[i - n + 1: i + 1])] += 1
        self.counts[n] = dict(top)
        self._derive()
        return self

    def _derive(self) -> None:
        """Lower-order continuation counts, context totals and types, and discounts from the top counts."""
        n = self.order
        for k in range(n - 1, 0, -1):  # continuation counts: distinct left neighbours
            self.counts[k] = dict(Counter(gram[1:] for gram in self.counts[k + 1]))
        for k in range(1, n + 1):
            totals: defaultdict[tuple[int, ...], int] = defaultdict(int)
            types: defaultdict[tuple[int, ...], int] = defaultdict(int)
            for gram, c in self.counts[k].items():
                totals[gram[:-1]] += c
                types[gram[:-1]] += 1
            self.totals[k], self.types[k] = dict(totals), dict(types)
            n1 = sum(1 for c in self.counts[k].values() if c == 1)
            n2 = sum(1 for c in self.counts[k].values() if c == 2)
            self.discounts[k] = n1 / (n1 + 2 * n2) if n1 > 0 else 0.75

    def prob(self, context: Sequence[int], token: int) -> float:
        """P(token | the last ``order - 1`` tokens of context)."""
        history = tuple(([BOS] * (self.order - 1) + list(context))[-(self.order - 1):]) if self.order > 1 else ()
        p = 1.0 / self.vocab_size
        for k in range(1, self.order + 1):  # from the unigram up, each order interpolating the one below
            h = history[len(history) - (k - 1):] if k > 1 else ()
            total = self.totals[k].get(h, 0)
            if total == 0:
                continue
            d = self.discounts[k]
            c = self.counts[k].get(h + (token,), 0)
            p = max(c - d, 0.0) / total + d * self.types[k][h] / total * p
        return p

    def perplexity(self, blocks: Iterable[Sequence[int]]) -> float:
        """exp of the mean negative log-likelihood of every token but the first of each block
        (the tokens a causal LM predicts), with context taken from inside the block."""
        nll, count = 0.0, 0
        for block in blocks:
            for i in range(1, len(block)):
                nll -= math.log(self.prob(block[max(0, i - self.order + 1): i], block[i]))
                count += 1
        return math.exp(nll / max(count, 1))

    def save(self, path: Path) -> None:
        """Write the counts as JSON (n-grams joined with spaces)."""
        data = {"order": self.order, "vocab_size": self.vocab_size,
                "counts": [{" ".join(map(str, g)): c for g, c in level.items()} for level in self.counts]}
        Path(path).write_text(json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> KneserNey:
        """Read a model written by :meth:`save` (statistics are recomputed from the counts).

        :raises MltasksError: the file is missing or not such a model (the message names it).
        """
        from mltasks.errors import DataError
        from mltasks.rundir import read_json

        data = read_json(Path(path))
        try:
            model = cls(int(data["order"]), int(data["vocab_size"]))
            top = {tuple(int(t) for t in g.split()): int(c) for g, c in data["counts"][model.order].items()}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise DataError(f"{path}: not an n-gram model written by mltasks-llm") from None
        model.counts[model.order] = top
        model._derive()
        return model
