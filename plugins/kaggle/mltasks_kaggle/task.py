"""The kaggle task: a tabular competition end to end.

``mltasks run kaggle`` (Titanic, built offline) or ``mltasks run kaggle --data ./house-prices``:
read train/test/sample_submission, infer target, id and problem type, cross-validate a
leaderboard of scikit-learn pipelines (preprocessing fitted inside each fold), refit the best
(or the blend of the top models) on all training rows, and write ``submission.csv``,
``leaderboard.csv``, ``oof_predictions.csv``, EDA tables and plots into the run.

The fitted pipeline is saved with skops (``mltasks.sklearn_io``): loading checks every type
it names against the exact list of :mod:`mltasks_kaggle.saved_types`, so opening a run
directory from anyone never runs its code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from mltasks import Evaluation, PredictOption, Progress, Report, Splits, Task
from mltasks.errors import DataError, RunDirectoryError
from mltasks.rundir import read_json

from mltasks_kaggle.config import KaggleConfig, model_list
from mltasks_kaggle.data import (
    Schema,
    Table,
    check_test_values,
    check_train,
    feature_columns,
    find_files,
    holdout,
    infer_columns,
    infer_problem,
    read_csv,
)
from mltasks_kaggle.rows import input_frames, json_value, prediction_records
from mltasks_kaggle.saved_types import SAVED_TYPES

SMOKE_ROWS = 300  # training rows of a smoke run (no field: --quick's other values are quick_presets)
SMOKE_FOLDS = KaggleConfig.quick_presets["folds"]  # what benchmarks/kaggle.py reads
PIPELINE_FILE = "pipeline.skops"


class KaggleTask(Task):
    """Kaggle-style tabular workflow: CV leaderboard of linear, random forest and gradient boosting."""

    Config = KaggleConfig
    config: KaggleConfig
    # evaluate returns the leaderboard's scorer first (roc_auc, accuracy, neg_root_mean_squared_error...):
    # a scikit-learn scorer, so greater is better whatever the problem
    primary_metric = ""
    greater_is_better = True
    input_kind = "row"
    input_suffixes = (".csv",)
    predict_options: ClassVar[dict[str, PredictOption]] = {}  # none: mltasks refuses every option

    # Data ------------------------------------------------------------------------

    @classmethod
    def sample_data(cls, directory: Path) -> Path:
        """A tiny Titanic competition folder (240 passengers: 180 train, 60 test)."""
        from mltasks_kaggle.default_data import COMPETITIONS, competition_frame

        comp = COMPETITIONS["titanic"]
        frame = competition_frame(comp).sample(n=240, random_state=0).sort_values(comp.id_column)
        train, test = frame.iloc[:180], frame.iloc[180:]
        folder = Path(directory)
        train.to_csv(folder / "train.csv", index=False)
        test.drop(columns=[comp.target]).to_csv(folder / "test.csv", index=False)
        test[[comp.id_column]].assign(**{comp.target: 0}).to_csv(folder / "sample_submission.csv", index=False)
        return folder

    def load_data(self, source: str | Path | None) -> Splits:
        """Read a competition folder or a single CSV (``None``: the built-in competition), and check
        everything test.csv and the sample submission can be refused for, before any training."""
        from mltasks_kaggle.submission import submission_format

        cfg = self.config
        if source is None:
            from mltasks_kaggle.default_data import competition_folder

            source = competition_folder(cfg.competition)
        train_path, test_path, sample_path = find_files(Path(source))
        train = read_csv(train_path)
        sample = read_csv(sample_path) if sample_path else None
        target, id_column = infer_columns(cfg.target, cfg.id, train, train_path, sample, sample_path)
        train = check_train(train, train_path, target)
        if cfg.smoke and len(train) > SMOKE_ROWS:
            train = train.sample(n=SMOKE_ROWS, random_state=cfg.data_seed).sort_index().reset_index(drop=True)
        problem, classes = infer_problem(train[target], cfg.problem, train_path)
        if cfg.metric:  # an unknown scorer name is a config error now, not after the data line is logged
            from mltasks_kaggle.cv import scorer

            scorer(cfg.metric, problem)
        if test_path is None:  # one labelled table: hold out 20% as an honest test split
            train, test = holdout(train, target, problem, cfg.data_seed)
            labelled, layout = True, "single CSV, 20% held out"
            features, dropped = feature_columns(train, None, target, id_column, train_path, None)
        else:
            test = read_csv(test_path)
            labelled = target in test.columns
            if labelled:
                test = test[test[target].notna()].reset_index(drop=True)
            layout = "competition folder"
            features, dropped = feature_columns(train, test, target, id_column, train_path, test_path)
        schema = Schema(target, id_column, problem, features, dropped, classes)
        submission = None
        if test_path is not None:
            check_test_values(test, train, features, train_path, test_path)
            if not labelled:  # a submission will be written: its format is checked now, not after training
                submission = submission_format(sample_path, test, test_path, schema, cfg.submission)
        info = {"layout": layout, "target": target, "id_column": id_column, "problem": problem,
                "classes": [str(c) for c in classes[:50]], "features": len(features), "not_used": dropped,
                "sample_submission": str(sample_path) if sample_path else None,
                "submission": submission.kind if submission else None}
        return Splits(train=Table(train, train_path, True, schema, sample_path, submission),
                      test=Table(test, test_path or train_path, labelled, schema, sample_path, submission),
                      test_labelled=labelled, info=info)

    # Training --------------------------------------------------------------------

    def train(self, splits: Splits, progress: Progress, context: Any = None) -> KaggleTask:
        """Cross-validate every configured model, then refit the best on all training rows."""
        with self._thread_limits():
            return self._train(splits, progress)

    @contextmanager
    def _thread_limits(self) -> Iterator[None]:
        """scikit-learn's OpenMP pool is loaded after the runner set the thread count: limit it here.

        By default (num_threads=0) gradient boosting gets one OpenMP thread: on tables this small its
        spin-waiting threads cost far more than they save whenever the machine is busy (seen: 145 s
        instead of a few seconds for 5 folds of Titanic); forests still use every core through joblib.
        """
        import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime, which threadpoolctl only limits once loaded
        from threadpoolctl import threadpool_limits

        threads = self.config.num_threads
        with threadpool_limits(limits=threads or 1, user_api="openmp"), \
                threadpool_limits(limits=threads or None, user_api="blas"):
            yield

    def _train(self, splits: Splits, progress: Progress) -> KaggleTask:
        from mltasks_kaggle import cv
        from mltasks_kaggle.features import column_kinds, model_inputs
        from mltasks_kaggle.models import blend, pipeline

        cfg = self.config
        table: Table = splits.train
        schema = Schema.from_dict(table.schema.to_dict())  # type: ignore[union-attr]
        frame = table.frame
        kinds = column_kinds(frame, schema.features)
        for col, kind in kinds.items():
            if kind == "identifier" and frame[col].dtype.kind in "iu":
                schema.dropped[col] = (f"integer column whose {frame[col].nunique()} values are all distinct "
                                       "(a row index or id: not a feature)")
            elif kind == "identifier" or (kind == "text" and cfg.text_columns == "drop"):
                schema.dropped[col] = f"{kind} column ({frame[col].nunique()} distinct values)"
        schema.features = [c for c in schema.features if c not in schema.dropped]
        kinds = {c: k for c, k in kinds.items() if c in schema.features}
        if not schema.features:
            raise DataError(f"{table.source}: no usable feature columns ({'; '.join(schema.dropped)})")
        X, y = model_inputs(frame, schema.features, kinds, table.source), frame[schema.target]
        names = model_list(cfg.models)
        # what submission.csv will hold (load_data read it from the sample): the metric it is judged by
        fmt = table.submission
        submission = fmt.kind if fmt is not None and fmt.kind != "value" else None
        metric, reason = cv.ranking_metric(cfg.metric, schema.problem, submission)
        n_folds = min(cfg.folds, len(y))
        folds = cv.folds(y, schema.problem, n_folds, cfg.data_seed, cfg.cv_repeats)
        repeated = f" x {cfg.cv_repeats} repeats" if cfg.cv_repeats > 1 else ""
        progress.log(f"kaggle: {schema.problem} target {schema.target!r}, {len(schema.features)} features, "
                     f"{n_folds}-fold CV{repeated} of {', '.join(names)} ranked by {metric} ({reason})")

        def make(name: str) -> Any:
            return pipeline(name, schema.problem, kinds, cfg)

        def on_repeat(name: str, scores: list[float]) -> None:
            if len(names) == 1:  # one model (mltasks tune): the CV mean so far after each full K-fold pass,
                # under the name the tuner optimises (cv_score), so its pruner can stop a hopeless trial
                mean = float(sum(scores)) / len(scores)
                progress.report(len(scores) // n_folds, unit="repeat", **{f"cv_{metric}": mean, "cv_score": mean})

        with progress.bar("cross-validation", total=len(names), unit="model") as bar:
            entries = cv.cross_validate(make, names, X, y, problem=schema.problem, classes=schema.classes,
                                        metric=metric, splits=folds, ensemble=cfg.ensemble, repeats=cfg.cv_repeats,
                                        on_model=lambda name, scores: bar.advance(), on_repeat=on_repeat)
        best = entries[0]
        for row in cv.leaderboard_rows(entries, metric):
            progress.log(f"  #{row['rank']} {row['model']}: {metric}={row[metric]:.5g} ± {row[metric + '_std']:.2g}")
        if best.members:
            model = blend([make(m).fit(X, y) for m in best.members], schema.problem)
        else:
            model = make(best.name).fit(X, y)
        self.model_ = model
        self.schema_ = schema
        self.kinds_ = kinds
        self.metric_ = metric
        self.metric_reason_ = reason
        self.best_ = best.name
        self.cv_metrics_ = best.metrics(metric)
        self.leaderboard_ = cv.leaderboard_rows(entries, metric)
        # the fold column names each row's fold in the first partition (the predictions are means over repeats)
        self.oof_ = self._oof_frame(frame, schema, best.oof, [va for _, va in folds[:n_folds]])
        return self

    def _oof_frame(self, frame: Any, schema: Schema, oof: Any, fold_rows: list[Any]) -> Any:
        import numpy as np
        import pandas as pd

        fold = np.zeros(len(frame), dtype=int)
        for i, rows in enumerate(fold_rows):
            fold[rows] = i + 1
        out = pd.DataFrame({schema.id_column: frame[schema.id_column]} if schema.id_column else {},
                           index=frame.index)
        out[schema.target] = frame[schema.target]
        out["fold"] = fold
        if schema.problem == "regression":
            out["oof_prediction"] = oof
        else:
            out["oof_prediction"] = np.asarray(schema.classes, dtype=object)[oof.argmax(axis=1)]
            for i, c in enumerate(schema.classes):
                out[f"oof_probability_{c}"] = oof[:, i]
        return out.reset_index(drop=True)

    # Inference -------------------------------------------------------------------

    def predict_frame(self, frame: Any, source: Any) -> Any:
        """Predictions for the rows of a DataFrame: class probabilities ``(rows, classes)`` in the
        order of ``schema_.classes``, or regression values ``(rows,)``.

        :param source: where the rows came from, named in errors (a path, "JSON input").
        :raises DataError: a feature column is missing or a numeric one holds text.
        """
        from mltasks_kaggle.cv import predictions
        from mltasks_kaggle.features import model_inputs

        self.check_is_trained()
        X = model_inputs(frame, self.schema_.features, self.kinds_, source)
        return predictions(self.model_, X, self.schema_.problem)

    def evaluate(self, dataset: Any) -> Evaluation:
        """Metrics on a labelled table, the leaderboard's scorer first (``details``: the predictions);
        for an unlabelled one (a competition's test.csv), the best model's cross-validation metrics
        (fold means)."""
        self.check_is_trained()
        if isinstance(dataset, Table) and dataset.labelled and self.schema_.target in dataset.frame.columns:
            from sklearn.metrics import get_scorer

            from mltasks_kaggle.cv import standard_metrics
            from mltasks_kaggle.features import model_inputs

            schema = self.schema_
            X = model_inputs(dataset.frame, schema.features, self.kinds_, dataset.source)
            y = dataset.frame[schema.target]
            pred = self.predict_frame(dataset.frame, dataset.source)
            out = {self.metric_: float(get_scorer(self.metric_)(self.model_, X, y))}
            out.update({k: v for k, v in standard_metrics(schema.problem, y, pred, schema.classes).items()
                        if k != self.metric_})
            return Evaluation(out, details={"predictions": pred, "rows": len(dataset)})
        first = {self.metric_: self.cv_metrics_[self.metric_]}
        return Evaluation({**first, **self.cv_metrics_})

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Predict for table rows: dicts (column -> value; absent keys are missing values), the
        same as JSON object strings (``'{"sex": "male", "age": 30}'``, what the CLI passes), or
        paths of CSV files whose columns include the training features (one record per row).

        :returns: one record per row: the id (when known), ``prediction`` and, for classification,
            ``probabilities`` per class.
        """
        self.check_is_trained()
        records: list[dict[str, Any]] = []
        for frame, source in input_frames(inputs, self.schema_, self.kinds_):
            records += prediction_records(frame, self.predict_frame(frame, source), self.schema_)
        return records

    def example_inputs(self, dataset: Any) -> list[dict[str, Any]]:
        """The first three rows of a split as records (column -> JSON value), the form ``predict`` takes."""
        frame = dataset.frame[[c for c in self.schema_.features if c in dataset.frame.columns]].head(3)
        return [{k: json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]

    # Persistence -----------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """``pipeline.skops`` (the fitted scikit-learn model, with its trusted-type list beside it)
        and ``meta.json``; the out-of-fold predictions go into the run directory with the report."""
        import sklearn
        from mltasks import sklearn_io

        self.check_is_trained()
        directory = Path(directory)
        self.save_config(directory)
        sklearn_io.save(self.model_, directory / PIPELINE_FILE, SAVED_TYPES)
        meta = {"schema": self.schema_.to_dict(), "kinds": self.kinds_, "metric": self.metric_,
                "metric_reason": self.metric_reason_, "best": self.best_, "cv_metrics": self.cv_metrics_,
                "leaderboard": self.leaderboard_, "sklearn": sklearn.__version__}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2, default=json_value), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> KaggleTask:
        """A trained task from :meth:`save`'s folder; nothing is unpickled.

        :raises DataError: a file is missing or corrupt, or the pipeline names an untrusted type
            (the message names the file).
        """
        from mltasks import sklearn_io

        directory = Path(directory)
        task = cls(_load_config(cls, directory))
        meta_path = directory / "meta.json"
        try:
            meta = read_json(meta_path, expect=dict)
            task.schema_ = Schema.from_dict(meta["schema"])
            task.kinds_ = dict(meta["kinds"])
            task.metric_ = str(meta["metric"])
            task.best_ = meta["best"]
            task.cv_metrics_ = dict(meta["cv_metrics"])
            task.leaderboard_ = list(meta["leaderboard"])
        except RunDirectoryError as exc:
            raise DataError(str(exc)) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{meta_path}: not a kaggle model description ({type(exc).__name__}: {exc})") from None
        task.metric_reason_ = str(meta.get("metric_reason", ""))
        old = directory / "pipeline.joblib"
        if old.exists() and not (directory / PIPELINE_FILE).exists():
            raise DataError(f"{old}: a pickled pipeline from an older mltasks-kaggle, never loaded (unpickling "
                            "can run code); train the run again with this version")
        task.model_ = sklearn_io.load(directory / PIPELINE_FILE, SAVED_TYPES)
        task.oof_ = None  # only the training run's report uses them (oof_predictions.csv in the run)
        return task

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
        """EDA, the leaderboard, submission.csv, out-of-fold predictions and feature importances."""
        from mltasks_kaggle.outputs import build_report

        self.check_is_trained()
        details = evaluation.details if evaluation is not None else {}
        with self._thread_limits():
            return build_report(self, splits, Path(run_dir), test_predictions=details.get("predictions"))


def _load_config(cls: type[KaggleTask], directory: Path) -> KaggleConfig:
    """``task_config.json`` through :meth:`Task.load_config`; binary junk is a DataError naming it too."""
    try:
        config = cls.load_config(directory)
    except UnicodeDecodeError:
        raise DataError(f"{directory / 'task_config.json'}: not a UTF-8 JSON file") from None
    assert isinstance(config, KaggleConfig)
    return config

