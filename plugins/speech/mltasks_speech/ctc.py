"""CTC transcription: a conv + BiGRU acoustic model over log-mel features, a character
vocabulary, greedy (best path) decoding without dependencies, and beam search through
torchaudio's flashlight-text decoder (the optional extra ``mltasks-speech[beam]``)."""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable, Sequence

import numpy as np
import torch
from mltasks.errors import MissingDependencyError
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

    Two 3x3 convs (the first strided by ``stride`` in time: 10 ms frames -> 20 or 30 ms) feed a
    2-layer BiGRU; a coarser frame rate shortens the sequences the GRU runs over.
    """

    def __init__(self, spec: FeatureSpec, n_tokens: int, hidden: int = 128, dropout: float = 0.2,
                 stride: int = 2) -> None:
        super().__init__()
        self.frontend = Frontend(spec)
        self.stride = stride
        c = 32
        self.conv = nn.Sequential(nn.Conv2d(1, c, 3, stride=(2, stride), padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, stride=(2, 1), padding=1), nn.BatchNorm2d(c), nn.ReLU())
        mels = math.ceil(math.ceil(spec.n_mels / 2) / 2)
        self.proj = nn.Linear(c * mels, hidden)
        self.rnn = nn.GRU(hidden, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=dropout)
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, n_tokens))
        # one-direction GRUs that run self.rnn's weights (a tuple: not submodules, nothing saved)
        self._cells = (nn.GRU(hidden, hidden, batch_first=True), nn.GRU(2 * hidden, hidden, batch_first=True))
        for cell in self._cells:
            cell.requires_grad_(False)

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.frontend(waves, lengths).unsqueeze(1)  # (B, 1, M, F)
        x = self.conv(x)  # (B, C, M', F') with F' = ceil(F / stride)
        b, c, m, f = x.shape
        x = self.proj(x.permute(0, 3, 1, 2).reshape(b, f, c * m))  # (B, F', H)
        frames = self.frontend.frames(lengths)
        out_lengths = torch.div(frames + self.stride - 1, self.stride, rounding_mode="floor").clamp(1, f)
        y = self._bigru(x, out_lengths)  # (B, F', 2H)
        return self.out(y).log_softmax(-1), out_lengths  # (B, F', V)

    def _bigru(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``self.rnn`` over padded sequences, as over packed ones: the backward direction reads
        each sequence reversed within its own length, so padding never reaches a real frame.

        The same arithmetic as ``pack_padded_sequence`` (outputs agree to 1e-7), but the packed
        backward pass is ~4x slower on CPUs: that was most of a transcribe run's training time.
        Padded output frames are zero.
        """
        steps = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, F)
        lengths = lengths.to(x.device)[:, None]  # (B, 1)
        valid = steps < lengths
        index = torch.where(valid, lengths - 1 - steps, steps)[:, :, None]  # reverses the real frames only

        def flip(t: torch.Tensor) -> torch.Tensor:
            return torch.gather(t, 1, index.expand(-1, -1, t.shape[2]))

        for layer, cell in enumerate(self._cells):
            if layer:
                x = nn.functional.dropout(x, self.rnn.dropout, self.training)
            outputs = []
            for suffix in (f"_l{layer}", f"_l{layer}_reverse"):
                weights = {f"{name}_l0": getattr(self.rnn, name + suffix)
                           for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
                reverse = suffix.endswith("reverse")
                y, _ = torch.func.functional_call(cell, weights, (flip(x) if reverse else x,))
                outputs.append(flip(y) if reverse else y)
            x = torch.cat(outputs, -1)
        return x * valid[:, :, None].to(x.dtype)


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


#: the decoder's names for CTC's blank and word separator (never characters of normalised text).
_BLANK_TOKEN, _SPACE_TOKEN = "-", "|"


def beam_decoder(alphabet: Sequence[str], beam_width: int = 8) -> Callable[[np.ndarray], str]:
    """A lexicon-free CTC beam search without a language model: torchaudio's ``ctc_decoder``
    (flashlight-text), merging hypotheses that collapse to the same text by log-add.

    :returns: ``decode(log_probs (frames, vocab)) -> text``.
    :raises MissingDependencyError: flashlight-text is not installed.
    """
    if importlib.util.find_spec("flashlight") is None:
        raise MissingDependencyError("decoder=beam needs flashlight-text (torchaudio's CTC beam search); "
                                     "decoder=greedy needs nothing", pip="mltasks-speech[beam]")
    from torchaudio.models.decoder import ctc_decoder

    tokens = [_BLANK_TOKEN] + [_SPACE_TOKEN if c == " " else c for c in alphabet[1:]]
    extra = _SPACE_TOKEN not in tokens  # flashlight needs a word separator even for one-word texts
    if extra:
        tokens.append(_SPACE_TOKEN)
    search = ctc_decoder(lexicon=None, tokens=tokens, lm=None, nbest=1, beam_size=beam_width,
                         beam_size_token=None, beam_threshold=50.0, blank_token=_BLANK_TOKEN,
                         sil_token=_SPACE_TOKEN, log_add=True)

    def decode(log_probs: np.ndarray) -> str:
        scores = torch.as_tensor(np.asarray(log_probs), dtype=torch.float32)
        if extra:  # the separator column the model never emits
            scores = torch.cat([scores, torch.full((len(scores), 1), -1e4)], dim=1)
        if len(scores) == 0:
            return ""
        best = search(scores[None].contiguous(), torch.tensor([len(scores)], dtype=torch.int32))[0][0]
        text = "".join(search.idxs_to_tokens(best.tokens)).replace(_SPACE_TOKEN, " ")
        return " ".join(text.split())

    return decode
