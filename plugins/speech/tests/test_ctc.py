"""CTC decoding on hand-made score matrices, and WER/CER."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from mltasks_speech.ctc import beam_decoder, build_alphabet, encode, greedy_decode, normalise_text
from mltasks_speech.metrics import error_rates
from mltasks_speech.pretrained import spell_numbers

needs_flashlight = pytest.mark.skipif(importlib.util.find_spec("flashlight") is None,
                                      reason="decoder=beam needs flashlight-text (mltasks-speech[beam])")

ALPHABET = ["<blank>", " ", "a", "b", "c"]


def frames(*rows: dict[int, float]) -> np.ndarray:
    """Log-probabilities from per-frame {token: probability} (the rest shared out evenly)."""
    out = np.zeros((len(rows), len(ALPHABET)))
    for t, row in enumerate(rows):
        rest = (1 - sum(row.values())) / (len(ALPHABET) - len(row))
        out[t] = [row.get(k, rest) for k in range(len(ALPHABET))]
    return np.log(out)


def test_greedy_merges_repeats_and_drops_blanks() -> None:
    # best path: a a _ a b b _ _ c  -> "a a b c" collapses to "aabc"
    best = [2, 2, 0, 2, 3, 3, 0, 0, 4]
    logits = np.full((len(best), len(ALPHABET)), -5.0)
    logits[np.arange(len(best)), best] = 0.0
    assert greedy_decode(logits, ALPHABET) == "aabc"


def test_greedy_handles_spaces_and_empty_output() -> None:
    best = [2, 1, 1, 3, 0]
    logits = np.eye(len(ALPHABET))[best]
    assert greedy_decode(logits, ALPHABET) == "a b"
    assert greedy_decode(np.eye(len(ALPHABET))[[0, 0, 0]], ALPHABET) == ""


@needs_flashlight
def test_beam_sums_paths_that_greedy_misses() -> None:
    # Per frame the blank is most likely (0.4), so best path gives "", but "a" collects more
    # probability over all its alignments: P("") = 0.16, P("a") = 0.3*0.4*2 + 0.3*0.3 ... > 0.16.
    lp = frames({0: 0.4, 2: 0.3}, {0: 0.4, 2: 0.3})
    assert greedy_decode(lp, ALPHABET) == ""
    assert beam_decoder(ALPHABET, beam_width=4)(lp) == "a"


@needs_flashlight
def test_beam_matches_greedy_on_confident_scores() -> None:
    best = [3, 3, 0, 2, 1, 4, 0, 4]
    logits = np.log(np.full((len(best), len(ALPHABET)), 0.01))
    logits[np.arange(len(best)), best] = math.log(0.96)
    assert beam_decoder(ALPHABET, beam_width=8)(logits) == greedy_decode(logits, ALPHABET) == "ba cc"


@needs_flashlight
def test_beam_without_a_space_in_the_alphabet() -> None:
    # one-word transcripts have no space; the decoder still needs a word separator
    alphabet = ["<blank>", "a", "b"]
    lp = np.log(np.array([[0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]))
    assert beam_decoder(alphabet)(lp) == "ab"
    assert beam_decoder(alphabet)(np.zeros((0, 3))) == ""


def test_beam_without_flashlight_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from mltasks.errors import MissingDependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "flashlight" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"mltasks-speech\[beam\]"):
        beam_decoder(ALPHABET)


def test_alphabet_and_encoding() -> None:
    alphabet = build_alphabet(["Hello, World!", "it's"])
    assert alphabet[0] == "<blank>" and "'" in alphabet and "," not in alphabet
    assert "".join(alphabet[i] for i in encode("HELLO world", alphabet)) == "hello world"
    assert normalise_text("  Two,  NINE! ") == "two nine"


def test_wer_and_cer() -> None:
    scores = error_rates(["two nine three", "one"], ["two five three", "one"])
    assert scores["wer"] == pytest.approx(1 / 4)
    assert scores["cer"] == pytest.approx(2 / 17)  # "nine" -> "five" is 2 edits in 17 characters
    assert scores["sentence_accuracy"] == 0.5
    assert error_rates(["a b"], [""])["wer"] == 1.0


def test_whisper_numerals_are_spelled_for_wer() -> None:
    assert spell_numbers("Go forward 10 meters.") == "Go forward ten meters."
    assert spell_numbers("2934 0") == "two nine three four zero"
    assert spell_numbers("2-9-3") == "two nine three"
    assert spell_numbers("21 and 1,500") == "twenty one and one thousand five hundred"
