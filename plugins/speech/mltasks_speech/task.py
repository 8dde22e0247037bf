"""SpeechTask: spoken-word recognition (keyword mode) and transcription (CTC or pretrained).

::

    mltasks run speech                          # embedded spoken digits, CNN on log-mel
    mltasks run speech --data ./wav             # <word>/*.wav folders
    mltasks run speech --set mode=transcribe --data manifest.csv
    mltasks predict runs/speech-... a.wav b.wav
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mltasks import Evaluation, PredictOption, Progress, Report, RunContext, Splits, Task, weights
from mltasks.errors import ConfigError, DataError, MltasksError
from mltasks.rundir import read_json
from mltasks.torch import load_weights, save_weights

from mltasks_speech import keyword, transcribe
from mltasks_speech.audio import AUDIO_SUFFIXES, is_audio, load_clip
from mltasks_speech.config import Decoder, SpeechConfig, WindowPick
from mltasks_speech.ctc import CTCModel
from mltasks_speech.default_data import write_sample
from mltasks_speech.features import FeatureSpec
from mltasks_speech.keyword_predict import predict_keywords
from mltasks_speech.metrics import error_rates, keyword_metrics, per_group_accuracy
from mltasks_speech.models import build_keyword_model
from mltasks_speech.pretrained import build_recognizer, recognizer_identity, whisper_identity

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
    input_kind = "file"
    input_suffixes = AUDIO_SUFFIXES

    @property
    def primary_metric(self) -> str:  # type: ignore[override]
        """Keyword mode is scored by accuracy; transcription by word error rate."""
        return "wer" if self.config.mode == "transcribe" else "accuracy"

    @property
    def greater_is_better(self) -> bool:  # type: ignore[override]
        """A lower word error rate is better."""
        return self.config.mode != "transcribe"

    # mltasks checks the names and converts the values (--set top_k=3 is text) before predict runs
    predict_options = {
        "top_k": PredictOption(int, "keyword mode: how many of the most likely words each record lists (default 3)"),
        "min_confidence": PredictOption(float, "keyword mode: answer 'unknown' when the best word's calibrated "
                                               "probability is below this, in [0, 1) (default: the run's "
                                               "min_confidence setting)"),
        "window_pick": PredictOption(WindowPick, "keyword mode: how the windows of a clip longer than the model's "
                                                 "window give one answer: confident, mean, loudest or loud-confident "
                                                 "(default: the run's window_pick setting)"),
        "decoder": PredictOption(Decoder, "transcribe mode: greedy (best path) or beam (beam search; needs "
                                          "mltasks-speech[beam]); default: the run's decoder setting"),
    }

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

    def train(self, splits: Splits, progress: Progress, context: RunContext | None = None) -> SpeechTask:
        """Fit the keyword or CTC model (or set up the pretrained recogniser); first show the
        data warnings ``load_data`` gathered (random split, files cut short, skipped files)."""
        for message in (splits.info or {}).get("warnings", []):
            progress.warn(message)
        cfg = self.config
        if cfg.mode == "transcribe" and cfg.pretrained != "none":
            self.recognizer_ = build_recognizer(cfg.pretrained, cfg.grammar, cfg.pretrained_path, cfg.num_threads)
            progress.log(f"pretrained recogniser {cfg.pretrained}: nothing to train")
            return self
        if cfg.mode == "transcribe":
            self.model_, self.spec_, self.alphabet_, self.history_ = transcribe.train_transcribe(
                cfg, splits, progress, context)
        else:
            self.model_, self.spec_, self.history_ = keyword.train_keyword(cfg, splits, progress, context)
            self.classes_ = list(splits.train.classes)
        self.model_.to("cpu")
        return self

    # inference --------------------------------------------------------------------------

    def _device(self) -> str:
        return self.config.device

    def label_probabilities(self, waves: torch.Tensor) -> np.ndarray:
        """Keyword mode: class probabilities ``(N, C)`` of fixed-length waves ``(N, T)``."""
        self.check_is_trained()
        shift = int(round(self.config.tta_shift_s * self.config.sample_rate))
        probs = keyword.probabilities(self.model_, waves, self._device(), shift)
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

    def evaluate(self, dataset: Any) -> Evaluation:
        """Keyword: accuracy, macro-F1 and, when clips name their speakers, worst-voice accuracy
        (of the best word, answered or not); with ``min_confidence`` also the share of clips
        answered and the accuracy on those. Transcribe: WER, CER, sentence accuracy. ``details``
        hold what was scored, for the report."""
        self.check_is_trained()
        if dataset is None or len(dataset) == 0:
            raise DataError("there is no labelled split to evaluate on (the data has no test or val clips)")
        if self.config.mode == "transcribe":
            hypotheses = self.transcribe_waves(dataset.waves)
            return Evaluation(error_rates(dataset.texts, hypotheses),
                              details={"references": list(dataset.texts), "hypotheses": hypotheses,
                                       "paths": list(dataset.paths), "decoder": self._decoder_name()})
        probs = self.label_probabilities(keyword.dataset_waves(dataset))
        predicted = [self.classes_[i] for i in probs.argmax(axis=1)]
        metrics = keyword_metrics(dataset.labels, predicted)
        if self.config.min_confidence > 0:  # the abstain: how often it answers, and how well when it does
            answered = probs.max(axis=1) >= self.config.min_confidence
            hits = np.array([p == t for p, t in zip(predicted, dataset.labels)])
            metrics["answered"] = float(answered.mean())
            metrics["accuracy_answered"] = float(hits[answered].mean()) if answered.any() else 1.0
        details: dict[str, Any] = {"labels": dataset.labels, "predicted": predicted, "speakers": None,
                                   "confidence": probs.max(axis=1).tolist()}
        if all(dataset.speakers):  # without speaker ids there are no voices to rank
            voices = per_group_accuracy(dataset.speakers, dataset.labels, predicted)
            metrics["worst_voice_accuracy"] = float(min(voices.values()))
            details["speakers"] = list(dataset.speakers)
        return Evaluation(metrics, details=details)

    def _decoder_name(self) -> str:
        return self.config.pretrained if getattr(self, "recognizer_", None) is not None else self.config.decoder

    def predict_labels(self, dataset: Any) -> list[str]:
        """Keyword mode: the predicted word of every clip of a ClipSet."""
        probs = self.label_probabilities(keyword.dataset_waves(dataset))
        return [self.classes_[i] for i in probs.argmax(axis=1)]

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Label (with probability and the top-k words) or transcript of each audio file.

        :param inputs: file paths or folders of audio files.
        :param options: see :attr:`predict_options`; they arrive checked and converted to their types.
        :raises ConfigError: a ``top_k`` below 1 or a ``min_confidence`` outside [0, 1).
        """
        self.check_is_trained()
        top_k = options.get("top_k", 3)
        if top_k < 1:
            raise ConfigError(f"top_k={top_k}: must be at least 1")
        paths = _expand(inputs)
        rate = self.config.sample_rate
        notes: list[str] = []
        if self.config.mode == "transcribe":
            waves = [load_clip(p, rate, notes)[0] for p in paths]
            _show(notes)
            texts = self.transcribe_waves(waves, options.get("decoder"))
            return [{"input": str(p), "transcript": t} for p, t in zip(paths, texts)]
        min_confidence, pick = _keyword_options(self.config, options)
        records = predict_keywords(paths, self.label_probabilities, self.classes_, rate=rate,
                                   window=self.spec_.clip_samples, hop=int(round(self.config.window_hop_s * rate)),
                                   pick=pick, trim=self.config.trim_silence, top_k=top_k,
                                   min_confidence=min_confidence, notes=notes)
        _show(notes)
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
                        frame_stride=getattr(self.model_, "stride", None),
                        history=self.history_)
        (directory / _META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        used = getattr(getattr(self, "recognizer_", None) or getattr(self.model_, "encoder", None), "identity", None)
        if used is not None:  # pretrained weights: load requires the same ones (mltasks.weights)
            weights.record(directory, [used])

    @classmethod
    def load(cls, directory: Path) -> SpeechTask:
        """A new task from a folder written by :meth:`save`.

        :raises DataError: a model file is missing, corrupt or does not fit its metadata (named).
        """
        directory = Path(directory)
        try:
            config: SpeechConfig = cls.load_config(directory)  # type: ignore[assignment]
        except UnicodeDecodeError:  # binary bytes (a planted pickle) where JSON belongs
            raise DataError(f"{directory / 'task_config.json'}: not a UTF-8 JSON file") from None
        task = cls(config)
        try:
            meta = read_json(directory / _META)
        except UnicodeDecodeError:
            raise DataError(f"{directory / _META}: not a UTF-8 JSON file") from None
        if not isinstance(meta, dict):
            raise DataError(f"{directory / _META}: expected a JSON object")
        if meta.get("pretrained", "none") != "none":
            weights.require(directory, recognizer_identity(config.pretrained, config.pretrained_path))
            task.recognizer_ = build_recognizer(config.pretrained, config.grammar, config.pretrained_path,
                                                config.num_threads)
            return task
        if meta.get("mode") == "keyword" and meta.get("model") == "whisper-tiny":  # the classifier fits this encoder
            weights.require(directory, whisper_identity(config.pretrained_path))
        try:
            spec = FeatureSpec(**meta["features"])
            if meta["mode"] == "transcribe":
                task.alphabet_ = [str(c) for c in meta["alphabet"]]
                # runs saved before frame_stride existed have none in their metadata: they used 2
                model: torch.nn.Module = CTCModel(spec, len(task.alphabet_), hidden=config.hidden,
                                                  dropout=config.dropout, stride=int(meta.get("frame_stride") or 2))
            else:
                task.classes_ = [str(c) for c in meta["classes"]]
                model = build_keyword_model(meta["model"], spec, len(task.classes_), config.width, config.dropout,
                                            config.pretrained_path, config.num_threads)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{directory / _META}: not the metadata of a speech model ({exc!r})") from None
        try:
            load_weights(model, directory / _WEIGHTS)
        except MltasksError:
            raise
        except Exception as exc:  # safetensors' own error type for a corrupt or foreign file
            raise DataError(f"{directory / _WEIGHTS}: not a readable safetensors file ({exc})") from None
        task.model_, task.spec_, task.history_ = model.eval(), spec, list(meta.get("history", []))
        return task

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
        """Confusion matrix and per-voice accuracy (keyword), or error rates by decoder and
        example transcripts (transcribe), from what ``evaluate`` scored."""
        from mltasks_speech.report import build_report

        return build_report(self, splits, Path(run_dir), evaluation)


def _keyword_options(config: SpeechConfig, options: dict[str, Any]) -> tuple[float, str]:
    """``min_confidence`` and ``window_pick`` of one predict call (already typed): the options given, else the run's."""
    min_confidence = options.get("min_confidence", config.min_confidence)
    if not 0 <= min_confidence < 1:
        raise ConfigError(f"min_confidence={min_confidence}: expected a number in [0, 1)")
    return min_confidence, options.get("window_pick", config.window_pick)


def _show(notes: list[str]) -> None:
    """Warnings about the inputs of ``predict`` (files cut short): Python warnings, which the CLI prints."""
    for note in notes:
        warnings.warn(note, stacklevel=3)


def _to_16k(wave: torch.Tensor, rate: int) -> np.ndarray:
    from mltasks_speech.audio import resample

    return resample(wave, rate, 16000).numpy()
