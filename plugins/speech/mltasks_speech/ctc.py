"""CTC transcription: a conv + BiGRU acoustic model over log-mel features, a character
vocabulary, and greedy (best path) and prefix beam-search decoding."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mltasks_speech.features import FeatureSpec, Frontend

BLANK = 0


def normalise_text(text: str) -> str:
    """Lower case, letters/digits/apostrophes only, single spaces: what WER is computed on."""
    text = re.sub(r"[^a-z0-9' ]+", " ", text.lower())
    return " ".join(text.split())


def build_alphabet(texts: Sequence[str]) -> list[str]:
    """The sorted characters of the (normalised) training transcripts; index 0 is the blank."""
    chars = sorted({c for t in texts for c in normalise_text(t)})
    return ["<blank>"] + chars


def encode(text: str, alphabet: Sequence[str]) -> list[int]:
    """Character ids of ``text``; characters not in the alphabet are dropped."""
    index = {c: i for i, c in enumerate(alphabet)}
    return [index[c] for c in normalise_text(text) if c in index]


class CTCModel(nn.Module):
    """``forward(waves (B, T), lengths (B,)) -> (log_probs (B, F', V), out_lengths (B,))``.

    Two strided 3x3 convs halve the frame rate (10 ms -> 20 ms) before a 2-layer BiGRU.
    """

    def __init__(self, spec: FeatureSpec, n_tokens: int, hidden: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.frontend = Frontend(spec)
        c = 32
        self.conv = nn.Sequential(nn.Conv2d(1, c, 3, stride=(2, 2), padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, stride=(2, 1), padding=1), nn.BatchNorm2d(c), nn.ReLU())
        mels = math.ceil(math.ceil(spec.n_mels / 2) / 2)
        self.proj = nn.Linear(c * mels, hidden)
        self.rnn = nn.GRU(hidden, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=dropout)
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, n_tokens))

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.frontend(waves, lengths).unsqueeze(1)  # (B, 1, M, F)
        x = self.conv(x)  # (B, C, M', F') with F' = ceil(F / 2)
        b, c, m, f = x.shape
        x = self.proj(x.permute(0, 3, 1, 2).reshape(b, f, c * m))  # (B, F', H)
        out_lengths = torch.div(self.frontend.frames(lengths) + 1, 2, rounding_mode="floor").clamp(1, f)
        packed = nn.utils.rnn.pack_padded_sequence(x, out_lengths.cpu(), batch_first=True, enforce_sorted=False)
        y, _ = self.rnn(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=f)
        return self.out(y).log_softmax(-1), out_lengths  # (B, F', V)


def greedy_decode(log_probs: np.ndarray, alphabet: Sequence[str]) -> str:
    """Best path: the most likely token per frame, repeats merged, blanks removed.

    :param log_probs: ``(frames, vocab)`` scores of one utterance (only the argmax matters).
    """
    best = np.asarray(log_probs).argmax(axis=-1)
    out, previous = [], BLANK
    for token in best.tolist():
        if token != previous and token != BLANK:
            out.append(alphabet[token])
        previous = token
    return " ".join("".join(out).split())


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high = max(a, b)
    return high + math.log1p(math.exp(-abs(a - b)))


def beam_decode(log_probs: np.ndarray, alphabet: Sequence[str], beam_width: int = 8, prune: float = -12.0) -> str:
    """CTC prefix beam search (Hannun et al. 2014) without a language model.

    Each prefix keeps the log-probability of ending in a blank and in its last token, so
    paths that collapse to the same text are summed rather than competing.

    :param log_probs: ``(frames, vocab)`` log-probabilities of one utterance.
    :param prune: tokens whose frame log-probability is below this are not extended.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}  # prefix -> (p_blank, p_token)
    for frame in log_probs:
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        candidates = [t for t in range(len(frame)) if frame[t] > prune] or [int(frame.argmax())]
        for prefix, (p_b, p_t) in beams.items():
            total = _logsumexp(p_b, p_t)
            for token in candidates:
                p = float(frame[token])
                if token == BLANK:
                    entry = nxt[prefix]
                    entry[0] = _logsumexp(entry[0], total + p)
                    continue
                extended = prefix + (token,)
                entry = nxt[extended]
                if prefix and prefix[-1] == token:
                    entry[1] = _logsumexp(entry[1], p_b + p)  # a repeat needs a blank in between
                    same = nxt[prefix]
                    same[1] = _logsumexp(same[1], p_t + p)  # or it merges into the same token
                else:
                    entry[1] = _logsumexp(entry[1], total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True)[:beam_width]
        beams = {prefix: (v[0], v[1]) for prefix, v in ranked}
    best = max(beams.items(), key=lambda kv: _logsumexp(*kv[1]))[0]
    return " ".join("".join(alphabet[t] for t in best).split())
