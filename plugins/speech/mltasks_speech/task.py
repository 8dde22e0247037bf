"""SpeechTask: spoken-word recognition (keyword mode) and transcription (CTC or pretrained).

::

    mltasks run speech                          # embedded spoken digits, CNN on log-mel
    mltasks run speech --data ./wav             # <word>/*.wav folders
    mltasks run speech --set mode=transcribe --data manifest.csv
    mltasks predict runs/speech-... a.wav b.wav
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mltasks import Report, Splits, Task
from mltasks.errors import DataError
from mltasks.progress import Progress, null_progress
from mltasks.torch import load_weights, save_weights

from mltasks_speech import keyword, transcribe
from mltasks_speech.audio import fit_length, is_audio, load_clip
from mltasks_speech.config import SpeechConfig
from mltasks_speech.ctc import CTCModel
from mltasks_speech.default_data import write_sample
from mltasks_speech.features import FeatureSpec
from mltasks_speech.metrics import error_rates, keyword_metrics, per_group_accuracy
from mltasks_speech.models import build_keyword_model
from mltasks_speech.pretrained import build_recognizer

_META = "speech_model.json"
_WEIGHTS = "model.safetensors"


def _expand(inputs: Any) -> list[Path]:
    """Paths from the CLI: files as given, folders expanded to the audio files inside."""
    if inputs is None or (isinstance(inputs, (list, tuple)) and not inputs):
        raise DataError("speech predict needs audio files (WAV, FLAC or OGG) or folders of them")
    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_audio(p))
            if not found:
                raise DataError(f"{path}: no audio files in this folder")
            out += found
        else:
            out.append(path)
    return out


class SpeechTask(Task):
    """Keyword spotting on word folders, or speech-to-text from a manifest (see ``SpeechConfig.mode``)."""

    Config = SpeechConfig
    config: SpeechConfig

    # data ------------------------------------------------------------------------------

    @classmethod
    def sample_data(cls, directory: Path) -> Path:
        """Write ``<word>/<voice>_nohash_0.wav`` clips and a connected-digit ``manifest.csv``
        (both from the embedded set), so either mode reads the same folder."""
        return write_sample(Path(directory))

    def load_data(self, source: str | Path | None) -> Splits:
        """Word folders (keyword mode) or a manifest (transcribe mode); ``None``: embedded digits."""
        if self.config.mode == "transcribe":
            return transcribe.load_transcribe(source, self.config)
        return keyword.load_keyword(source, self.config)

    def example_inputs(self, dataset: Any) -> list[str]:
        """The first three clips of a split that are real files."""
        return [p for p in getattr(dataset, "paths", []) if Path(p).is_file()][:3]

    # training ---------------------------------------------------------------------------

    def train(self, splits: Splits, progress: Progress | None = None) -> SpeechTask:
        """Fit the keyword or CTC model (or set up the pretrained recogniser)."""
        progress = progress or null_progress()
        cfg = self.config
        if cfg.mode == "transcribe" and cfg.pretrained != "none":
            self.recognizer_ = build_recognizer(cfg.pretrained, cfg.grammar, cfg.pretrained_path)
            progress.log(f"pretrained recogniser {cfg.pretrained}: nothing to train")
            return self
        if cfg.mode == "transcribe":
            self.model_, self.spec_, self.alphabet_, self.history_ = transcribe.train_transcribe(cfg, splits, progress)
        else:
            self.model_, self.spec_, self.history_ = keyword.train_keyword(cfg, splits, progress)
            self.classes_ = list(splits.train.classes)
        self.model_.to("cpu")
        return self

    # inference --------------------------------------------------------------------------

    def _device(self) -> str:
        return self.config.device

    def label_probabilities(self, waves: torch.Tensor) -> np.ndarray:
        """Keyword mode: class probabilities ``(N, C)`` of fixed-length waves ``(N, T)``."""
        self.check_is_trained()
        probs = keyword.probabilities(self.model_, waves, self._device())
        self.model_.to("cpu")
        return probs

    def transcribe_waves(self, waves: list[torch.Tensor], decoder: str | None = None) -> list[str]:
        """Transcribe mode: the text of each 1-D wave (at ``config.sample_rate``)."""
        self.check_is_trained()
        if getattr(self, "recognizer_", None) is not None:
            rate = self.config.sample_rate
            return [self.recognizer_.transcribe(_to_16k(w, rate)) for w in waves]
        texts = transcribe.transcribe_waves(self.model_, waves, self.alphabet_, decoder or self.config.decoder,
                                            self.config.beam_width, self._device())
        self.model_.to("cpu")
        return texts

    def evaluate(self, dataset: Any) -> dict[str, float]:
        """Keyword: accuracy, macro-F1, worst-voice accuracy. Transcribe: WER, CER, sentence accuracy."""
        self.check_is_trained()
        if dataset is None or len(dataset) == 0:
            raise DataError("there is no labelled split to evaluate on (the data has no test or val clips)")
        if self.config.mode == "transcribe":
            return error_rates(dataset.texts, self.transcribe_waves(dataset.waves))
        predicted = self.predict_labels(dataset)
        metrics = keyword_metrics(dataset.labels, predicted)
        voices = per_group_accuracy(dataset.speakers, dataset.labels, predicted)
        metrics["worst_voice_accuracy"] = float(min(voices.values()))
        return metrics

    def predict_labels(self, dataset: Any) -> list[str]:
        """Keyword mode: the predicted word of every clip of a ClipSet."""
        probs = self.label_probabilities(keyword.dataset_waves(dataset))
        return [self.classes_[i] for i in probs.argmax(axis=1)]

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Label (with probability and the top-k words) or transcript of each audio file.

        :param inputs: file paths or folders of audio files.
        :param options: ``top_k`` (keyword, default 3); ``decoder`` greedy/beam (transcribe).
        """
        self.check_is_trained()
        paths = _expand(inputs)
        rate = self.config.sample_rate
        if self.config.mode == "transcribe":
            waves = [load_clip(p, rate)[0] for p in paths]
            texts = self.transcribe_waves(waves, options.get("decoder"))
            return [{"input": str(p), "transcript": t} for p, t in zip(paths, texts)]
        top_k = max(1, int(options.get("top_k", 3)))
        waves = torch.stack([fit_length(load_clip(p, rate)[0], self.spec_.clip_samples) for p in paths])
        probs = self.label_probabilities(waves)
        records = []
        for path, row in zip(paths, probs):
            order = np.argsort(-row, kind="stable")[:top_k]
            records.append({"input": str(path), "label": self.classes_[order[0]],
                            "probability": float(row[order[0]]),
                            "top": [{"label": self.classes_[i], "probability": float(row[i])} for i in order]})
        return records

    # persistence ------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """``model.safetensors`` + ``speech_model.json`` (labels/alphabet, feature settings, rate)."""
        self.check_is_trained()
        directory = Path(directory)
        self.save_config(directory)
        meta: dict[str, Any] = {"mode": self.config.mode, "pretrained": self.config.pretrained}
        if getattr(self, "recognizer_", None) is None:
            save_weights(self.model_, directory / _WEIGHTS)
            meta.update(features=self.spec_.to_dict(), model=self.config.model,
                        classes=getattr(self, "classes_", None), alphabet=getattr(self, "alphabet_", None),
                        history=self.history_)
        (directory / _META).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> SpeechTask:
        """A new task from a folder written by :meth:`save`."""
        directory = Path(directory)
        config: SpeechConfig = cls.load_config(directory)  # type: ignore[assignment]
        task = cls(config)
        meta = json.loads((directory / _META).read_text(encoding="utf-8"))
        if meta.get("pretrained", "none") != "none":
            task.recognizer_ = build_recognizer(config.pretrained, config.grammar, config.pretrained_path)
            return task
        spec = FeatureSpec(**meta["features"])
        if meta["mode"] == "transcribe":
            model: torch.nn.Module = CTCModel(spec, len(meta["alphabet"]), hidden=config.hidden, dropout=config.dropout)
            task.alphabet_ = list(meta["alphabet"])
        else:
            model = build_keyword_model(meta["model"], spec, len(meta["classes"]), config.width, config.dropout)
            task.classes_ = list(meta["classes"])
        load_weights(model, directory / _WEIGHTS)
        task.model_, task.spec_, task.history_ = model.eval(), spec, list(meta.get("history", []))
        return task

    def report(self, splits: Splits, run_dir: Path) -> Report:
        """Confusion matrix and per-voice accuracy (keyword), or example transcripts (transcribe)."""
        from mltasks_speech.report import build_report

        return build_report(self, splits, Path(run_dir))


def _to_16k(wave: torch.Tensor, rate: int) -> np.ndarray:
    from mltasks_speech.audio import resample

    return resample(wave, rate, 16000).numpy()
