"""The ``text`` task: classify texts with TF-IDF, a CNN/LSTM from scratch, a fine-tuned transformer,
or both of the first and last blended (the default).

::

    mltasks run text                                   # embedded fortunes topics, MiniLM + TF-IDF blend
    mltasks run text --data reviews.csv --set model=tfidf
    mltasks predict runs/text-... "The compiler crashed again."
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from mltasks import Evaluation, PredictOption, Progress, Report, RunContext, Splits, Task, weights
from mltasks.errors import ConfigError, DataError

from mltasks_text.config import TextConfig
from mltasks_text.data import TextDataset, load_text_splits, write_sample_data
from mltasks_text.metrics import headline

LABELS_FILE = "labels.json"
#: Epochs of a smoke run (``--quick``, the kit) left at ``epochs=None``: a first look in seconds (cnn/lstm 5).
SMOKE_EPOCHS = {"transformer": 1, "blend": 1}


def _uses_pretrained(cfg: TextConfig) -> bool:
    """Whether a model starts from pretrained files (the encoder, or its tokenizer for cnn/lstm)."""
    return cfg.model in ("transformer", "blend") or (cfg.model in ("cnn", "lstm") and cfg.tokenizer == "pretrained")


def _warn(message: str) -> None:
    """Tell the user (stderr) and the run log, as ``Progress.warn`` does: data loading has no progress."""
    Progress(enabled=False).warn(message)


class TextTask(Task):
    """Text classification over labelled texts (see :mod:`mltasks_text.data` for the formats)."""

    Config = TextConfig
    config: TextConfig
    primary_metric: ClassVar[str] = "accuracy"
    greater_is_better: ClassVar[bool] = True
    input_kind: ClassVar[str] = "text"
    predict_options: ClassVar[dict[str, PredictOption]] = {
        "top_k": PredictOption(int, "how many of the most likely classes each record lists (default 3)")}

    @classmethod
    def sample_data(cls, directory: Path) -> Path:
        """Write ``sample.csv`` (three topics x 20 short sentences) under ``directory``."""
        return write_sample_data(directory)

    def load_data(self, source: str | Path | None) -> Splits:
        """Read a folder or a CSV/TSV/JSONL file (``None``: the embedded fortunes topics) into splits."""
        cfg = self.config
        return load_text_splits(source, seed=cfg.data_seed, text_col=cfg.text_col,  # --quick: max_per_class preset
                                label_col=cfg.label_col, val_size=cfg.val_size, test_size=cfg.test_size,
                                max_per_class=cfg.max_per_class, warn=_warn)

    def effective_config(self) -> TextConfig:
        """The config as trained: ``model=auto`` resolved; in smoke runs ``epochs=None`` is one
        epoch (cnn/lstm 5), so they finish in seconds (the rest of ``--quick`` is the config's
        ``quick_presets``, which values set explicitly override)."""
        from dataclasses import replace

        cfg = replace(self.config, model=self.config.chosen_model())
        if cfg.smoke and cfg.epochs is None:
            cfg = replace(cfg, epochs=SMOKE_EPOCHS.get(cfg.model, 5))
        return cfg

    def train(self, splits: Splits, progress: Progress, context: RunContext | None = None) -> TextTask:
        """Fit the configured model on ``splits.train`` (``splits.val`` for early stopping).

        :param context: the run's checkpoint folder and resume flag (neural models checkpoint each epoch).
        """
        train = splits.train
        if not isinstance(train, TextDataset) or not train.labels:
            raise DataError("text: the training split has no labels")
        labels = sorted(set(splits.info.get("labels") or []) | set(train.labels))
        if len(set(train.labels)) < 2:
            raise DataError(f"text: the training split holds a single class ({train.labels[0]!r})")
        cfg = self.effective_config()
        progress.log(f"training {cfg.model} on {len(train)} texts, {len(labels)} classes")
        if cfg.model == "tfidf":
            from mltasks_text.tfidf import TfidfClassifier

            model: Any = TfidfClassifier(cfg, labels).fit(train)
        else:
            from mltasks_text.neural import training_budget

            budget = training_budget(cfg, len(train))
            if budget is not None:
                epochs, steps = budget
                shown = f"{epochs} epoch(s)" if steps is None else f"{steps} steps (~{cfg.epoch_budget:,} texts)"
                progress.log(f"fine-tuning for {shown} on {len(train):,} training texts: chosen from the data size so "
                             f"that epochs x texts stays within epoch_budget={cfg.epoch_budget:,}; the expected "
                             "duration follows once the step rate is measured; --set epochs=N overrides")
            model = self._classifier(cfg, labels).fit(train, splits.val, progress, context, budget=budget)
        self.labels_ = labels
        self.model_ = model
        return self

    @staticmethod
    def _classifier(cfg: TextConfig, labels: list[str]) -> Any:
        """The unfitted neural or blended classifier of ``cfg.model``."""
        if cfg.model == "blend":
            from mltasks_text.blend import BlendClassifier

            return BlendClassifier(cfg, labels)
        from mltasks_text.neural import NeuralClassifier

        return NeuralClassifier(cfg, labels)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities ``(N, C)`` in the order of ``labels_``."""
        self.check_is_trained()
        return np.asarray(self.model_.predict_proba(list(texts)), dtype=np.float64)

    def evaluate(self, dataset: TextDataset) -> Evaluation:
        """Accuracy, macro-F1 (and macro precision/recall, weighted F1) on a labelled split; a blend
        also scores its parts alone (``tfidf_accuracy``, ``transformer_accuracy``, ``*_macro_f1``).

        ``details`` holds what the report shows: ``texts``, ``labels`` (true), ``predicted`` and
        ``probabilities`` (N, C) in the order of ``labels_`` (a blend: ``parts``, each part's).
        """
        self.check_is_trained()
        if not dataset.labels:
            raise DataError("text: cannot evaluate on unlabelled texts")
        details: dict[str, Any] = {}
        if self.effective_config().model == "blend":
            parts = self.model_.parts_proba(dataset.texts)
            probs = np.asarray(self.model_.blend(parts), dtype=np.float64)
            details["parts"] = parts
        else:
            probs = self.predict_proba(dataset.texts)
        predicted = [self.labels_[i] for i in probs.argmax(axis=1)]
        metrics = headline(dataset.labels, predicted, self.labels_)
        for name, part in details.get("parts", {}).items():
            scores = headline(dataset.labels, [self.labels_[i] for i in part.argmax(axis=1)], self.labels_)
            metrics[f"{name}_accuracy"], metrics[f"{name}_macro_f1"] = scores["accuracy"], scores["macro_f1"]
        details.update(texts=list(dataset.texts), labels=list(dataset.labels), predicted=predicted,
                       probabilities=probs)
        return Evaluation(metrics, details=details)

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Label each text with its probability and the ``top_k`` (option, default 3) most likely classes.

        :param options: see :attr:`predict_options`; they arrive checked and converted to their types.
        :raises ConfigError: a ``top_k`` below 1.
        """
        self.check_is_trained()
        top_k = options.get("top_k", 3)
        if top_k < 1:
            raise ConfigError(f"top_k={top_k}: must be at least 1")
        if inputs is None:
            raise DataError("text: give one or more texts to classify (or --file with one text per line)")
        texts = [inputs] if isinstance(inputs, str) else [str(t) for t in inputs]
        probs = self.predict_proba(texts)
        records = []
        for text, row in zip(texts, probs):
            order = np.argsort(-row, kind="stable")[:top_k]
            records.append({"text": text, "label": self.labels_[int(order[0])],
                            "probability": float(row[order[0]]),
                            "top": [{"label": self.labels_[int(i)], "probability": float(row[i])} for i in order]})
        return records

    def example_inputs(self, dataset: TextDataset) -> list[str]:
        """The first few texts of a split."""
        return list(dataset.texts[:5])

    def describe(self) -> str:
        """One paragraph on the trained model for the report."""
        cfg = self.effective_config()
        if cfg.model == "tfidf":
            return f"TF-IDF word 1-2 + char 2-5 n-grams, {cfg.classifier} (C={cfg.C})."
        net = self.model_.model
        if cfg.model == "blend":
            from mltasks_text.pretrained import DEFAULT_NAME

            params = sum(p.numel() for p in net.parameters())
            return (f"Blend of two models, weight {self.model_.weight:.1f} on the first (chosen on validation): "
                    f"the encoder {cfg.pretrained or DEFAULT_NAME} fine-tuned ({cfg.finetune}, mean pooling + "
                    f"linear head, {params:,} parameters, max_length {cfg.max_length}, best epoch "
                    f"{self.model_.best_epoch}), and TF-IDF word 1-2 + char 2-5 n-grams with {cfg.classifier} "
                    f"(C={cfg.C}).")
        params = sum(p.numel() for p in net.parameters())
        best = self.model_.best_epoch
        if cfg.model == "transformer":
            from mltasks_text.pretrained import DEFAULT_NAME

            name = cfg.pretrained or DEFAULT_NAME
            return (f"Transformer encoder {name}, {cfg.finetune} fine-tuning, mean pooling + linear head; "
                    f"{params:,} parameters; max_length {cfg.max_length}; best epoch {best}.")
        return (f"{cfg.model.upper()} from scratch on a {cfg.tokenizer} tokenizer "
                f"({len(self.model_.tokenizer):,} tokens); {params:,} parameters; best epoch {best}.")

    def save(self, directory: Path) -> None:
        """Write the config, the class names and the model (skops + JSON, safetensors, an HF folder; a blend both)."""
        self.check_is_trained()
        directory = Path(directory)
        self.save_config(directory)
        chosen = {"labels": self.labels_, "model": self.effective_config().model}  # what model=auto stood for
        (directory / LABELS_FILE).write_text(json.dumps(chosen, ensure_ascii=False))
        self.model_.save(directory)
        if _uses_pretrained(self.effective_config()):  # provenance: the run keeps its own copy of what it needs
            from mltasks_text.pretrained import pretrained_identity

            weights.record(directory, [pretrained_identity(self.effective_config().pretrained)])

    @classmethod
    def load(cls, directory: Path) -> TextTask:
        """A new trained task from a folder written by :meth:`save`."""
        from dataclasses import replace

        from mltasks.rundir import read_json

        directory = Path(directory)
        config = cls.load_config(directory)
        assert isinstance(config, TextConfig)
        saved = read_json(directory / LABELS_FILE)
        labels = saved.get("labels") if isinstance(saved, dict) else None
        if not isinstance(labels, list) or len(labels) < 2:
            raise DataError(f"{directory / LABELS_FILE}: not a list of class names")
        if saved.get("model") in ("tfidf", "cnn", "lstm", "transformer", "blend"):
            config = replace(config, model=saved["model"])
        task = cls(config)
        cfg = task.effective_config()
        if _uses_pretrained(cfg):
            weights.read_record(directory)  # checked as data; the saved model holds its encoder/tokenizer
        if cfg.model == "tfidf":
            from mltasks_text.tfidf import TfidfClassifier

            task.model_ = TfidfClassifier.load(directory, cfg, labels)
        elif cfg.model == "blend":
            from mltasks_text.blend import BlendClassifier

            task.model_ = BlendClassifier.load(directory, cfg, labels)
        else:
            from mltasks_text.neural import NeuralClassifier

            task.model_ = NeuralClassifier.load(directory, cfg, labels)
        task.labels_ = labels
        return task

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
        """Per-class table, confusion matrix, the TF-IDF baseline beside the model, and the most
        confident mistakes of the scored split."""
        from mltasks_text.report import build_report

        self.check_is_trained()
        return build_report(self, splits, run_dir, evaluation)
