"""The majority task: the smallest complete mltasks Task, in pure Python and NumPy.

``method=majority`` predicts the most frequent training class (the baseline every
classifier must beat); ``method=centroid`` standardises the features and predicts the
class whose mean is nearest. Run it with ``mltasks run majority``; predict with
``mltasks predict RUN 5.1,3.5,1.4,0.2 --set top_k=2``.

The model is saved as ``.npy`` arrays and JSON, so opening a run directory from anyone
runs no code; a missing or damaged file is a ``DataError`` naming it (exit 2).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mltasks import Evaluation, PredictOption, Progress, Report, RunContext, Splits, Task
from mltasks.errors import ConfigError, DataError, RunDirectoryError
from mltasks.plots import confusion_matrix
from mltasks.rundir import read_json
from mltasks_majority.config import MajorityConfig
from mltasks_majority.data import Table, read_csv

_ARRAYS = ("mean_", "scale_", "centroids_")  # saved as mean.npy, scale.npy, centroids.npy


def _default_csv() -> Path:
    return Path(str(resources.files("mltasks_majority") / "iris.csv"))


class MajorityTask(Task):
    """Majority-class / nearest-centroid classification of CSV rows."""

    Config = MajorityConfig
    config: MajorityConfig
    primary_metric = "accuracy"
    greater_is_better = True
    input_kind = "text"  # each input is one row of feature values: "5.1,3.5,1.4,0.2"
    # mltasks checks the names and converts the values (--set top_k=3 is text) before predict runs
    predict_options = {"top_k": PredictOption(int, "also list the K most likely classes with their "
                                                   "probabilities (default 1)")}

    @classmethod
    def sample_data(cls, directory: Path) -> Path:
        """Write 10 rows of each iris species to ``directory/iris_small.csv``."""
        lines = _default_csv().read_text(encoding="utf-8").splitlines()
        header, body = lines[0], lines[1:]
        keep = body[:10] + body[50:60] + body[100:110]
        path = Path(directory) / "iris_small.csv"
        path.write_text("\n".join([header, *keep]) + "\n", encoding="utf-8")
        return path

    def load_data(self, source: str | Path | None) -> Splits:
        """Read the CSV (default: iris) and split it, stratified by label, with the data seed."""
        path = _default_csv() if source is None else Path(source)
        table, names = read_csv(path, self.config.label_col)
        if 0 < self.config.max_rows < len(table):  # a random sample (--quick), before the split
            keep = np.sort(np.random.default_rng(self.config.data_seed).permutation(len(table))[: self.config.max_rows])
            table = Table(table.features[keep], [table.labels[i] for i in keep], table.columns, table.source)
        classes = sorted(set(table.labels))
        if len(classes) < 2:
            raise DataError(f"{path}: needs at least two classes, found {classes}")
        rng = np.random.default_rng(self.config.data_seed)  # split_seed, else seed
        test_idx: list[int] = []
        labels = np.asarray(table.labels)
        for label in classes:  # stratified: the same fraction of every class
            idx = np.flatnonzero(labels == label)
            rng.shuffle(idx)
            test_idx += idx[: max(1, int(round(len(idx) * self.config.test_size)))].tolist()
        mask = np.zeros(len(labels), dtype=bool)
        mask[test_idx] = True

        short = sorted(str(c) for c in classes if not (labels[~mask] == c).any())
        if short:  # every class must keep a training row, or its centroid is the mean of nothing
            raise DataError(f"{path}: too few rows of class {short[0]!r} to hold some out for testing and train "
                            f"on the rest (test_size={self.config.test_size}); add rows or lower test_size")

        def part(m: np.ndarray) -> Table:
            return Table(table.features[m], labels[m].tolist(), table.columns, table.source)

        return Splits(train=part(~mask), test=part(mask),
                      info={"features": names, "labels": classes, "path": str(path)})

    def train(self, splits: Splits, progress: Progress, context: RunContext | None = None) -> MajorityTask:
        """Learn the class counts, feature scaling and class centroids (one pass: nothing
        to checkpoint, so no ``context`` parameter)."""
        table: Table = splits.train
        self.classes_ = sorted(set(table.labels))
        self.features_ = list(table.columns)
        counts = {c: table.labels.count(c) for c in self.classes_}
        self.majority_ = max(self.classes_, key=lambda c: (counts[c], c))
        self.mean_ = table.features.mean(axis=0)
        self.scale_ = table.features.std(axis=0) + 1e-12
        z = (table.features - self.mean_) / self.scale_
        labels = np.asarray(table.labels)
        self.centroids_ = np.stack([z[labels == c].mean(axis=0) for c in self.classes_])
        progress.log(f"{len(self.classes_)} classes; most frequent: {self.majority_}")
        return self

    def _predict_labels(self, features: np.ndarray) -> tuple[list[str], np.ndarray]:
        z = (features - self.mean_) / self.scale_
        dist = ((z[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)  # (N, C)
        if self.config.method == "majority":
            scores = np.tile([1.0 if c == self.majority_ else 0.0 for c in self.classes_], (len(z), 1))
        else:
            logits = -dist - (-dist).max(axis=1, keepdims=True)
            scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return [self.classes_[i] for i in scores.argmax(axis=1)], scores

    def evaluate(self, dataset: Table) -> Evaluation:
        """Accuracy and macro-averaged recall on a labelled table; the predictions go to the
        report through the evaluation's ``details``."""
        self.check_is_trained()
        self._check_columns(dataset)
        predicted, _ = self._predict_labels(dataset.features)
        truth = np.asarray(dataset.labels)
        pred = np.asarray(predicted)
        recalls = [float((pred[truth == c] == c).mean()) for c in self.classes_ if (truth == c).any()]
        metrics = {"accuracy": float((pred == truth).mean()), "balanced_accuracy": float(np.mean(recalls))}
        return Evaluation(metrics, details={"labels": dataset.labels, "predicted": predicted})

    def _check_columns(self, dataset: Table) -> None:
        """Refuse a table whose feature columns are not the ones the model was trained on."""
        trained = list(getattr(self, "features_", []) or [])
        width = dataset.features.shape[1] if dataset.features.ndim == 2 else -1
        if width != len(self.mean_) or (trained and dataset.columns and list(dataset.columns) != trained):
            shown = ", ".join(dataset.columns) if dataset.columns else f"{width} columns"
            expected = ", ".join(trained) if trained else f"{len(self.mean_)} feature columns"
            raise DataError(f"{dataset.source or 'the data'}: feature columns {shown} do not match the "
                            f"model's ({expected})")

    def example_inputs(self, dataset: Table) -> list[str]:
        """Three rows as comma-separated feature values, as ``mltasks predict`` takes them."""
        return [",".join(f"{v:g}" for v in row) for row in dataset.features[:3]]

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Predict a label for each input: a list of numbers or a ``"5.1,3.5,1.4,0.2"`` string.

        :param options: see :attr:`predict_options` (``top_k``: with K > 1, each record also
            lists the K most likely classes); they arrive checked and converted to their types.
        :raises ConfigError: a ``top_k`` below 1.
        """
        self.check_is_trained()
        top_k = options.get("top_k", 1)
        if top_k < 1:
            raise ConfigError(f"top_k must be a positive integer, got {top_k!r}")
        rows = []
        for item in inputs or []:
            values = item.split(",") if isinstance(item, str) else item
            try:
                rows.append([float(v) for v in values])
            except ValueError:
                raise DataError(f"input {item!r}: expected comma-separated numbers") from None
        if any(len(r) != len(self.mean_) for r in rows):
            raise DataError(f"each input needs {len(self.mean_)} numbers")
        if not rows:
            return []
        labels, scores = self._predict_labels(np.asarray(rows, dtype=np.float64))
        records = []
        for label, row in zip(labels, scores):
            record: dict[str, Any] = {"label": label, "probability": round(float(row.max()), 6)}
            if top_k > 1:
                best = np.argsort(-row, kind="stable")[:top_k]
                record["top"] = [{"label": self.classes_[i], "probability": round(float(row[i]), 6)} for i in best]
            records.append(record)
        return records

    def save(self, directory: Path) -> None:
        """Arrays as ``.npy`` (no pickle), classes and majority as JSON."""
        directory = Path(directory)
        self.save_config(directory)
        for name in _ARRAYS:
            np.save(directory / f"{name.rstrip('_')}.npy", getattr(self, name), allow_pickle=False)
        (directory / "classes.json").write_text(json.dumps({"classes": self.classes_, "majority": self.majority_,
                                                            "features": self.features_}))

    @classmethod
    def load(cls, directory: Path) -> MajorityTask:
        """A new trained task from a folder written by :meth:`save`.

        :raises DataError: a file is missing or damaged (the message names it).
        """
        directory = Path(directory)
        path = directory / "task_config.json"  # the file being read, for the error message
        try:
            task = cls(cls.load_config(directory))
            path = directory / "classes.json"
            meta = read_json(path)  # a regular file of the run, size- and depth-capped
            task.classes_, task.majority_ = list(meta["classes"]), str(meta["majority"])
            task.features_ = [str(f) for f in meta.get("features", [])]  # absent in runs made before it was kept
            for name in _ARRAYS:
                path = directory / f"{name.rstrip('_')}.npy"
                setattr(task, name, np.load(path, allow_pickle=False))  # refuses pickled data
        except RunDirectoryError as exc:
            raise DataError(str(exc)) from None
        except ConfigError:  # task_config.json of another task, or edited: load_run names the run and the task
            raise
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path}: missing or damaged model file ({type(exc).__name__})") from None
        n_features = task.mean_.shape[0] if task.mean_.ndim == 1 else -1
        if task.scale_.shape != (n_features,) or task.centroids_.shape != (len(task.classes_), n_features):
            raise DataError(f"{directory}: model arrays do not fit together (damaged model folder)")
        return task

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
        """Class counts and the confusion matrix of the scored split (when matplotlib is there).

        :param evaluation: what :meth:`evaluate` returned for the scored split; the runner
            passes it, so the report shows what was scored without predicting again.
        """
        report = Report()
        counts = [{"class": c, "train rows": splits.train.labels.count(c)} for c in self.classes_]
        report.add_table("Classes", counts)
        if evaluation is not None and evaluation.details:
            try:
                path = confusion_matrix(run_dir / "confusion_matrix.png", evaluation.details["labels"],
                                        evaluation.details["predicted"], self.classes_)
                report.add_figure(f"Confusion matrix ({evaluation.split or 'test'})", path)
            except ImportError:
                report.add_section("Plots", "Install matplotlib for the confusion matrix.")
        return report
