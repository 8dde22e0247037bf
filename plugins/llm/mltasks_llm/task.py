"""LLMTask: adapt a pretrained language model cheaply, compress it, and measure every variant.

    mltasks run llm                                  # MiniLM + LoRA on the fortunes topics
    mltasks run llm --set mode=generate              # SmolLM2-135M + LoRA on the fortunes quotes
    mltasks predict runs/llm-... "Computers are"     # classify a text, or continue a prompt

Variants (``model/<variant>/``): base, adapted (the primary by default), quantized,
pruned, distilled (classify only), and in generate mode the n-gram baseline. The report's
centre is one table comparing them (see :mod:`mltasks_llm.compare`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from mltasks import Evaluation, PredictOption, Progress, Report, RunContext, Splits, Task, weights
from mltasks.errors import DataError
from mltasks_llm.config import VARIANTS, LLMConfig, Variant


def _warn(message: str) -> None:
    """Tell the user (stderr) and the run log, as ``Progress.warn`` does: data loading has no progress."""
    Progress(enabled=False).warn(message)


class LLMTask(Task):
    """Adapt MiniLM (classify) or SmolLM2-135M (generate), then quantize, prune and distill.

    The two modes are scored differently: classify by accuracy (higher is better), generate by
    held-out perplexity (lower is better). The tools around a task read ``primary_metric`` and
    ``greater_is_better`` from the task object, so both are properties of the config's ``mode``
    (as in ``mltasks-speech``); what does not depend on the mode stays a class attribute.
    """

    Config = LLMConfig
    config: LLMConfig
    input_kind: ClassVar[str] = "text"
    # mltasks checks the names and the values (a variant no run builds) before predict runs
    predict_options: ClassVar[dict[str, PredictOption]] = {
        "variant": PredictOption(Variant, "which model answers: " + ", ".join(VARIANTS)
                                 + " (default: the run's primary variant)")}

    @property
    def primary_metric(self) -> str:  # type: ignore[override]
        """Classify mode is scored by accuracy; generate mode by held-out perplexity."""
        return "perplexity" if self.config.mode == "generate" else "accuracy"

    @property
    def greater_is_better(self) -> bool:  # type: ignore[override]
        """A lower perplexity is better."""
        return self.config.mode != "generate"

    # Data -------------------------------------------------------------------------

    @classmethod
    def sample_data(cls, directory: Path) -> Path:
        """A tiny labelled CSV (the text plugin's sample); generate mode reads its text column."""
        from mltasks_text.api import write_sample_data

        return Path(write_sample_data(directory))

    def load_data(self, source: str | Path | None) -> Splits:
        """classify: the text plugin's formats; generate: text/JSONL corpora (see lm_data)."""
        cfg = self.config
        if cfg.mode == "generate":
            from mltasks_llm.lm_data import load_documents

            return load_documents(source, seed=cfg.data_seed, smoke=cfg.smoke, val_size=cfg.val_size,
                                  test_size=cfg.test_size, text_col=cfg.text_col or None, max_docs=None, warn=_warn)
        from mltasks_text.api import load_text_splits

        splits = load_text_splits(source, seed=cfg.data_seed, text_col=cfg.text_col or None,
                                  label_col=cfg.label_col or None, val_size=cfg.val_size, test_size=cfg.test_size,
                                  max_per_class=cfg.max_per_class or None, warn=_warn)
        if len(splits.val) == 0 or len(splits.test) == 0:
            raise DataError(f"{source}: too few texts to hold out validation and test examples")
        return splits

    # Training ---------------------------------------------------------------------

    def train(self, splits: Splits, progress: Progress, context: RunContext | None = None) -> LLMTask:
        """Train the base and adapted models, then build the compressed variants.

        :param context: the run's checkpoint folder (each training stage keeps its own
            sub-folder) and resume flag.
        """
        if self.config.mode == "generate":
            from mltasks_llm.pipeline import train_generate

            state = train_generate(self.config, splits, progress, context)
        else:
            from mltasks_llm.pipeline import train_classify

            state = train_classify(self.config, splits, progress, context)
        self.tokenizer_ = state["tokenizer"]
        self.models_ = state["models"]
        self.facts_ = state["facts"]
        self.labels_ = state.get("labels", [])
        self.pretrained_ = state["pretrained"]
        self.ngram_ = state.get("ngram")
        return self

    def model(self, variant: str | None = None) -> Any:
        """The trained model of a variant (default: the primary one)."""
        self.check_is_trained()
        name = variant or self.config.primary
        if name not in self.models_:
            raise DataError(f"variant {name!r} was not built; available: {', '.join(self.models_)}")
        return self.models_[name]

    # Evaluation and prediction ----------------------------------------------------

    def evaluate(self, dataset: Any, variant: str | None = None) -> Evaluation:
        """classify: accuracy and macro-F1; generate: perplexity and mean token loss (of the primary)."""
        from mltasks_llm import pipeline

        self.check_is_trained()
        name = variant or self.config.primary
        return Evaluation(pipeline.evaluate(self, dataset, name), details={"variant": name})

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """classify: label and probabilities per text; generate: a greedy continuation per prompt.

        :param options: ``variant`` (base, adapted, quantized, pruned, distilled), checked before
            predict runs; a variant this run did not build is a DataError naming the ones it did.
        """
        from mltasks_llm import pipeline

        self.check_is_trained()
        texts = [inputs] if isinstance(inputs, str) else [str(t) for t in (inputs or [])]
        if not texts:
            raise DataError("predict needs at least one input text (a prompt in generate mode)")
        return pipeline.predict(self, texts, options.get("variant") or self.config.primary)

    def example_inputs(self, dataset: Any) -> list[Any]:
        """Three texts (classify) or the first words of three documents as prompts (generate)."""
        texts = list(dataset.texts[:3])
        if self.config.mode == "generate":
            return [" ".join(t.split()[:6]) for t in texts]
        return texts

    # Persistence ------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Tokenizer, every variant under ``<variant>/``, ``state.json`` and the config."""
        from mltasks_llm import pipeline

        self.check_is_trained()
        directory = Path(directory)
        self.save_config(directory)
        pipeline.save_all(self, directory)
        state = {"labels": self.labels_, "facts": self.facts_, "variants": list(self.models_),
                 "pretrained": str(self.pretrained_)}
        (directory / "state.json").write_text(json.dumps(state, indent=2))
        from mltasks_llm.pretrained import run_identity

        weights.record(directory, [run_identity(self.config)])  # load rebuilds base/LoRA on these weights

    @classmethod
    def load(cls, directory: Path) -> LLMTask:
        """A trained task from a folder written by :meth:`save`."""
        from mltasks.rundir import read_json
        from mltasks_llm import pipeline

        directory = Path(directory)
        task = cls(cls.load_config(directory))
        state = read_json(directory / "state.json")
        if not isinstance(state, dict) or any(k not in state for k in ("labels", "facts", "variants", "pretrained")):
            raise DataError(f"{directory / 'state.json'}: not a state file written by mltasks-llm")
        task.labels_ = state["labels"]
        task.facts_ = state["facts"]
        task.pretrained_ = Path(state["pretrained"])
        from dataclasses import replace

        from mltasks_llm.pretrained import base_folder, run_identity

        weights.require(directory, run_identity(task.config))  # trained on other weights: refused
        base = replace(task.config, pretrained=str(base_folder(task.config)))  # the verified installed base
        task.tokenizer_, task.models_, task.ngram_ = pipeline.load_all(base, directory, state["variants"])
        return task

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
        """The comparison table of every variant (on the split the run scored), a bar chart,
        and ``comparison.json``."""
        from mltasks_llm.compare import comparison_report

        return comparison_report(self, splits, Path(run_dir))
