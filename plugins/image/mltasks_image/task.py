"""The ``image`` task: image classification by transfer learning from a pretrained backbone.

::

    mltasks run image                                   # embedded Fashion-MNIST subset, linear probe
    mltasks run image --data ./photos --set strategy=finetune
    mltasks predict runs/image-... cat.jpg dog.png
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from mltasks import Evaluation, PredictOption, Progress, Report, RunContext, Splits, Task, weights
from mltasks.errors import ConfigError, DataError

from mltasks_image.config import ImageConfig
from mltasks_image.data import IMAGE_SUFFIXES, ImageSet, fit_square, open_image
from mltasks_image.metrics import classification_metrics
from mltasks_image.sources import default_arrays, read_default, read_source

MODEL_JSON = "image_model.json"


class ImageTask(Task):
    """Linear probe or fine-tuning of a pretrained backbone (EfficientNet-Lite0 by default)."""

    Config = ImageConfig
    config: ImageConfig
    primary_metric = "accuracy"
    greater_is_better = True
    input_kind = "file"
    input_suffixes = IMAGE_SUFFIXES
    predict_options = {"top_k": PredictOption(int, "how many labels (with probabilities) to return per image; "
                                                   "default: the config's top_k")}

    @classmethod
    def sample_data(cls, directory: Path) -> Path:
        """An ImageFolder of 3 classes x 12 images (28x28 Fashion-MNIST pictures from the embedded
        data; grey PNGs, and every fourth one an RGB JPEG)."""
        from PIL import Image

        arrays = default_arrays()
        classes = [str(c) for c in arrays["classes"]]
        root = Path(directory) / "images"
        for name in ("Trouser", "Bag", "Sneaker"):
            folder = root / name.lower()
            folder.mkdir(parents=True)
            picks = np.flatnonzero(arrays["train_labels"] == classes.index(name))[:12]
            for i, j in enumerate(picks):
                image = Image.fromarray(arrays["train_images"][j], mode="L")
                if i % 4 == 3:
                    image.convert("RGB").save(folder / f"{i:02d}.jpg", quality=95)
                else:
                    image.save(folder / f"{i:02d}.png")
        return root

    def load_data(self, source: str | Path | None) -> Splits:
        """Read an ImageFolder, a ``train/val/test`` folder, a ``path,label`` CSV, or the default data."""
        if source is None:
            return read_default(self.config)
        return read_source(source, self.config)

    # -- training ---------------------------------------------------------------------------

    def _threads(self) -> None:
        if self.config.num_threads > 0:
            import torch

            torch.set_num_threads(self.config.num_threads)

    def train(self, splits: Splits, progress: Progress, context: RunContext | None = None) -> ImageTask:
        """Fit the chosen strategy on ``splits.train`` (``splits.val`` picks the best epoch).

        :param context: the run's checkpoint folder and resume flag (fine-tuning checkpoints each epoch).
        """
        self._threads()
        train, val = splits.train, splits.val
        if not isinstance(train, ImageSet) or len(train) == 0:
            raise DataError("the training split is empty: give at least one image per class")
        from mltasks_image.backbones import build_backbone
        from mltasks_image.finetune import finetune
        from mltasks_image.training import linear_probe

        backbone = build_backbone(self.config.backbone, self.config.weights)
        size = int(train.images.shape[1])
        if self.config.strategy == "linear-probe":
            model, info = linear_probe(backbone, train, val, self.config, progress)
        else:
            model, info = finetune(backbone, train, val, self.config, progress, size, context or RunContext())
        model.eval()
        self.model_ = model
        self.classes_ = list(train.classes)
        self.preprocessing_ = {"image_size": size, "resize": "shorter side to image_size, centre crop",
                               "scale": "pixels / 255", "mean": list(backbone.mean), "std": list(backbone.std)}
        self.backbone_id_ = {"name": backbone.name, "weights": backbone.weights_id}
        self.history_ = info.pop("history", [])
        self.train_info_ = info
        return self

    # -- scoring ----------------------------------------------------------------------------

    def _probabilities(self, images: ImageSet, use_cache: bool = True) -> np.ndarray:
        """Class probabilities ``(N, C)``; the linear probe reads cached features (not for
        ``predict``: a server would fill the cache with one entry per request)."""
        import torch
        from mltasks.torch import infer

        from mltasks_image.augment import TorchImages
        from mltasks_image.features import cached_features

        self._threads()
        if self.config.strategy == "linear-probe" and self.backbone_id_["weights"] != "random":
            key = (self.backbone_id_["name"], self.backbone_id_["weights"], tuple(self.preprocessing_["mean"]),
                   tuple(self.preprocessing_["std"]))
            feats = cached_features(self.model_, images, key, device=self.config.device, use_cache=use_cache)[0]
            with torch.no_grad():
                logits = self.model_.head(torch.from_numpy(feats))
        else:
            logits = infer(self.model_, TorchImages(images), forward_fn=lambda m, b: m(b[0]), device=self.config.device)
        return torch.softmax(logits.double(), dim=1).numpy()

    def _check_classes(self, dataset: ImageSet) -> None:
        if list(dataset.classes) != self.classes_:
            raise DataError(f"the data's classes {dataset.classes} differ from the model's {self.classes_}")

    def evaluate(self, dataset: ImageSet) -> Evaluation:
        """Accuracy, top-k accuracy (when there are more than k classes) and macro-F1 on a labelled
        ImageSet; ``details`` holds the class probabilities and labels for the report."""
        self.check_is_trained()
        if not isinstance(dataset, ImageSet) or len(dataset) == 0:
            raise DataError("evaluate needs a non-empty labelled image split")
        self._check_classes(dataset)
        probabilities = self._probabilities(dataset)
        metrics = classification_metrics(probabilities, dataset.labels, self.config.top_k)
        return Evaluation(metrics, details={"probabilities": probabilities, "labels": dataset.labels,
                                            "fingerprint": dataset.fingerprint()})

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Top-k labels of image files: ``[{"input", "label", "probability", "top_k": [...]}]``, one
        record per file, in order.

        :param options: ``top_k`` (default: the config's); see :attr:`predict_options` (checked and
            converted before predict runs).
        """
        self.check_is_trained()
        if not inputs:
            raise DataError("predict needs image files, e.g. mltasks predict RUN_DIR cat.jpg")
        top_k = options.get("top_k", self.config.top_k)
        if top_k < 1:
            raise ConfigError(f"top_k={top_k}: must be at least 1")
        paths = [str(p) for p in ([inputs] if isinstance(inputs, (str, Path)) else inputs)]
        size = int(self.preprocessing_["image_size"])
        pixels = np.stack([fit_square(open_image(p), size) for p in paths])
        images = ImageSet(pixels, np.full(len(paths), -1, dtype=np.int64), self.classes_, paths)
        probabilities = self._probabilities(images, use_cache=False)
        records = []
        for path, probs in zip(paths, probabilities, strict=True):
            order = np.argsort(-probs, kind="stable")[:top_k]
            ranked = [{"label": self.classes_[i], "probability": float(probs[i])} for i in order]
            records.append({"input": path, "label": ranked[0]["label"], "probability": ranked[0]["probability"],
                            "top_k": ranked})
        return records

    def example_inputs(self, dataset: ImageSet) -> list[str]:
        """Up to three image files of ``dataset`` (none for the embedded data, which has no files)."""
        return [p for p in getattr(dataset, "paths", []) if Path(p).is_file()][:3]

    # -- persistence ------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """``image_model.json`` (classes, preprocessing, backbone) and safetensors weights: the
        head alone for a linear probe of pretrained weights (the backbone is checked by hash
        on load), else the whole network (``model.safetensors``)."""
        self.check_is_trained()
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.save_config(directory)
        head_only = self.config.strategy == "linear-probe" and self.backbone_id_["weights"] != "random"
        module = self.model_.head if head_only else self.model_
        # plain safetensors (no tied weights here), loaded back with safetensors alone
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()},
                  str(directory / ("head.safetensors" if head_only else "model.safetensors")))
        meta = {"classes": self.classes_, "preprocessing": self.preprocessing_, "backbone": self.backbone_id_,
                "weights_file": "head.safetensors" if head_only else "model.safetensors",
                "history": self.history_, "train_info": self.train_info_}
        (directory / MODEL_JSON).write_text(json.dumps(meta, indent=2, default=float), encoding="utf-8")
        if self.backbone_id_["weights"] != "random":  # pretrained: recorded; a head alone requires them on load
            from mltasks_image.backbones import weights_identity

            weights.record(directory, [weights_identity(self.config.backbone, self.config.weights)])

    @classmethod
    def load(cls, directory: Path) -> ImageTask:
        """Rebuild the trained task saved by :meth:`save` (JSON and safetensors only: nothing is unpickled).

        :raises DataError: a model file is missing, corrupt or does not fit (names the file).
        """
        from mltasks_image.backbones import build_backbone, weights_identity
        from mltasks_image.models import ImageClassifier

        directory = Path(directory)
        try:
            config = cls.load_config(directory)
        except UnicodeDecodeError:  # binary junk in place of the JSON
            raise DataError(f"{directory / 'task_config.json'}: not a UTF-8 JSON file") from None
        assert isinstance(config, ImageConfig)
        meta = _read_meta(directory / MODEL_JSON)
        task = cls(config)
        head_only = meta["weights_file"] == "head.safetensors"
        if head_only:  # the saved head fits the backbone weights it was trained on, and no others
            weights.require(directory, weights_identity(config.backbone, config.weights))  # type: ignore[arg-type]
        elif isinstance(meta["backbone"], dict) and meta["backbone"].get("weights") != "random":
            weights.read_record(directory)  # fine-tuned: the network is saved whole; the record is provenance
        backbone = build_backbone(config.backbone, config.weights if head_only else "none")
        model = ImageClassifier(backbone, len(meta["classes"]))
        _load_weights(model.head if head_only else model, directory / meta["weights_file"])
        model.eval()
        task.model_ = model
        task.classes_ = list(meta["classes"])
        task.preprocessing_ = meta["preprocessing"]
        task.backbone_id_ = meta["backbone"]
        task.history_ = meta.get("history", [])
        task.train_info_ = meta.get("train_info", {})
        return task

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
        """Confusion matrix, a grid of misclassified images, per-class scores, the setup and a
        raw-pixel logistic-regression baseline on the same split."""
        from mltasks_image.figures import build_report

        test = splits.test if splits.test is not None else splits.val
        details = evaluation.details if evaluation is not None else {}
        probabilities = details.get("probabilities")
        if probabilities is None or details.get("fingerprint") != test.fingerprint():
            probabilities = self._probabilities(test)
        return build_report(self, splits, test, probabilities, Path(run_dir))


def _read_meta(path: Path) -> dict[str, Any]:
    """``image_model.json``, checked: a missing, broken or incomplete file is a DataError naming it."""
    from mltasks.errors import RunDirectoryError
    from mltasks.rundir import read_json

    if not path.exists():
        raise DataError(f"{path}: missing; is {path.parent} a saved image model?")
    try:
        meta = read_json(path)  # a regular file of the run, size- and depth-capped
    except RunDirectoryError as exc:
        raise DataError(f"{path}: not a readable image model description ({exc})") from None
    needed = ("classes", "preprocessing", "backbone", "weights_file")
    if not isinstance(meta, dict) or any(k not in meta for k in needed) or \
            meta["weights_file"] not in ("head.safetensors", "model.safetensors"):
        raise DataError(f"{path}: incomplete image model description (needs {', '.join(needed)})")
    return meta


def _load_weights(module: Any, path: Path) -> None:
    """Load a safetensors file into ``module``; any failure is a DataError naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise DataError(f"{path}: weights file not found")
    try:
        module.load_state_dict(load_file(str(path)), strict=True)
    except (SafetensorError, RuntimeError, OSError, ValueError) as exc:
        raise DataError(f"{path}: not readable weights for this model ({str(exc).splitlines()[0][:200]})") from None
