"""The ``recommender`` task: implicit-feedback recommendation with ranking metrics.

    mltasks run recommender                                  # ALS on MovieLens small
    mltasks run recommender --data ratings.csv --set model=bpr
    mltasks predict runs/recommender-... 1 42 --set k=5
    mltasks predict runs/recommender-... --set similar_to=318
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from mltasks import Evaluation, PredictOption, Report, RunContext, Splits, Task
from mltasks.errors import ConfigError, DataError
from mltasks.progress import Progress

from mltasks_recommender import models
from mltasks_recommender.config import RecommenderConfig
from mltasks_recommender.data import load_default, read_source
from mltasks_recommender.metrics import popularity_verdict, ranking_metrics
from mltasks_recommender.split import Interactions, build_splits

#: Options of :meth:`RecommenderTask.predict` (``mltasks predict RUN USER... --set KEY=VALUE``).
PREDICT_OPTIONS = {
    "k": PredictOption(int, "length of each recommendation list (default: the run's k)"),
    "similar_to": PredictOption(str, "an item id: list the items most similar to it instead of recommending "
                                     "to users"),
    "filter_seen": PredictOption(bool, "never recommend a user's training items (default true)"),
}
#: Fewer evaluated users than this make ranking metrics too noisy to compare models.
FEW_USERS = 10


class RecommenderTask(Task):
    """Top-k recommendation from implicit feedback with implicit's ALS/BPR/LMF and a popularity baseline.

    Learned state: ``model_`` (the implicit model), ``popularity_`` (item scores),
    ``user_items_`` (the training matrix, filtered out of recommendations), ``users_`` and
    ``items_`` (raw ids per row/column), ``titles_``, ``confidence_`` (the weighting and
    ``alpha`` trained with, how they were chosen, the candidates tried) and, after training
    with a validation split, ``validation_`` (model and popularity metrics on it).
    """

    Config = RecommenderConfig
    config: RecommenderConfig
    # "" = the first metric evaluate returns, precision_at_{k}: its name carries the configured k
    primary_metric: ClassVar[str] = ""
    greater_is_better: ClassVar[bool] = True
    input_kind: ClassVar[str] = "id"
    predict_options: ClassVar[dict[str, PredictOption]] = PREDICT_OPTIONS

    @classmethod
    def sample_data(cls, directory: Path) -> Path:
        """Write ``interactions.csv``: 80 users, 60 items in three taste groups, ratings and timestamps."""
        from mltasks_recommender.sample import write_sample

        return write_sample(Path(directory) / "interactions.csv")

    def load_data(self, source: str | Path | None) -> Splits:
        """Read interactions (a file, a folder, or None for MovieLens small) and split per user.

        A trained task reuses its id maps, so its saved model scores the same split again.
        """
        raw = load_default() if source is None else read_source(source, self.config)
        ids = (self.users_, self.items_) if hasattr(self, "users_") else None
        return build_splits(raw, self.config, ids)

    def train(self, splits: Splits, progress: Progress, context: RunContext | None = None) -> RecommenderTask:
        """Fit the popularity baseline and the implicit model on ``splits.train``.

        Says in the log whether the values are ratings or counts and which confidence the model
        trains with (chosen on validation for counts); warns (console and log) when a filter
        dropped more than 10 % of the rows, when the data has too few users for the metrics to
        mean much, and when popularity beats the model on validation.
        """
        from mltasks_recommender.selection import choose_confidence, fit_choice

        train: Interactions = splits.train
        if not isinstance(train, Interactions) or not len(train):
            raise DataError("the train split holds no interactions")
        self._check_data(splits, progress)
        self.users_ = list(train.users)
        self.items_ = list(train.items)
        self.titles_ = dict(train.titles)
        self.user_items_ = train.matrix
        self.popularity_ = models.popularity(train.matrix)
        cfg = self.config
        val = splits.val if isinstance(splits.val, Interactions) and len(splits.val) else None
        kind = train.values.kind if train.values is not None else "none"
        shape = models.build_model(cfg)
        progress.log(f"recommender: {cfg.model} with {shape.factors} factors, {shape.iterations} iterations "
                     f"on {len(self.users_)} users x {len(self.items_)} items ({len(train)} interactions)")
        with progress.bar(f"fitting {cfg.model}", total=None):
            choice = choose_confidence(cfg, kind, train.matrix, val)
            model = choice.model
            if model is None or (val is not None and cfg.eval_every > 0):  # (re)fit with the learning curve
                model = models.build_model(cfg, alpha=choice.alpha)
                fit_choice(cfg, train.matrix, choice, self._curve(val, model, progress), model=model)
        progress.log(f"recommender: confidence {choice.weighting} x alpha {choice.alpha:g} ({choice.how})")
        self.model_ = model
        self.confidence_ = choice.to_dict()
        if val is not None and cfg.eval_every > 0:  # the last point of the learning curve
            progress.report(model.iterations, unit="iteration", **self._val_metrics(val))
        if val is not None:
            self.validation_ = self._versus_popularity(val, progress)
        return self

    def _check_data(self, splits: Splits, progress: Progress) -> None:
        """Log what the values are; warn about heavy filters and too few users."""
        train: Interactions = splits.train
        if train.values is not None and train.values.kind == "none":
            progress.log(f"recommender: {train.values.reason}")
        elif train.values is not None:
            progress.log(f"recommender: values are {train.values.kind}s: {train.values.reason}")
        for step in train.dropped:
            (progress.warn if step.warns else progress.log)(f"recommender: {step.message()}")
        scored = splits.test if isinstance(splits.test, Interactions) else splits.val
        evaluated = len(scored.evaluated_users()) if isinstance(scored, Interactions) else 0
        if len(train.users) < 2:
            progress.warn(f"the data has {len(train.users)} user: collaborative filtering learns from many users, "
                          "so this model and its metrics are meaningless")
        elif evaluated < FEW_USERS:
            progress.warn(f"only {evaluated} user(s) have held-out interactions to score: the ranking metrics "
                          "are too noisy to compare models (add users, or lower holdout/min_train_items)")

    def _curve(self, val: Interactions | None, model: Any, progress: Progress) -> Any:
        """implicit's per-iteration callback reporting validation metrics every ``eval_every``
        iterations (the last one is reported after ``fit``)."""
        every = self.config.eval_every
        if val is None or every <= 0:
            return None

        def callback(iteration: int, elapsed: float, loss: Any) -> None:
            if (iteration + 1) % every == 0 and iteration + 1 < model.iterations:
                self.model_ = model
                progress.report(iteration + 1, unit="iteration", **self._val_metrics(val))

        return callback

    def _versus_popularity(self, val: Interactions, progress: Progress) -> dict[str, float]:
        """The model's and popularity's validation metrics; a warning when popularity is ahead."""
        k = self.config.k
        scores = self._scores(val)
        out = {name: float(scores[name]) for name in (f"precision_at_{k}", f"ndcg_at_{k}",
                                                       f"popularity_precision_at_{k}", f"popularity_ndcg_at_{k}")}
        message = popularity_verdict(self.config.model, out, k)
        (progress.warn if message.startswith("popularity beats") else progress.log)(f"recommender: {message}")
        return out

    def _val_metrics(self, val: Interactions) -> dict[str, float]:
        k = self.config.k
        scores = self._scores(val, include_baseline=False)
        return {f"val_{name}": scores[f"{name}_at_{k}"] for name in ("precision", "ndcg", "map")}

    def _scores(self, dataset: Interactions, include_baseline: bool = True) -> Evaluation:
        k = self.config.k
        exclude = dataset.exclude if dataset.exclude is not None else self.user_items_
        users = dataset.evaluated_users()
        relevant = [dataset.relevant(u) for u in users]
        ids, scores = models.recommend(self.model_, users, exclude, k)
        out = ranking_metrics(ids, relevant, k, len(self.items_))
        if include_baseline:
            pop_ids, _ = models.recommend_popular(self.popularity_, users, exclude, k)
            baseline = ranking_metrics(pop_ids, relevant, k, len(self.items_))
            out.update({f"popularity_{name}": value for name, value in baseline.items()})
        return Evaluation(out, details={"users": users, "ids": ids, "scores": scores,
                                        "evaluated_users": len(users)})

    def evaluate(self, dataset: Interactions) -> Evaluation:
        """precision/recall/MAP/NDCG at k and coverage for the model, and the same for popularity.

        ``details`` holds what was scored: the evaluated user indices (``users``) and the
        model's top-k item indices and scores for each (``ids``, ``scores``).
        """
        self.check_is_trained()
        if not isinstance(dataset, Interactions):
            raise DataError(f"evaluate expects a split from load_data, got {type(dataset).__name__}")
        if dataset.matrix.shape != self.user_items_.shape:
            raise DataError("the split's id maps differ from the model's: load it with this task's load_data")
        return self._scores(dataset)

    def example_inputs(self, dataset: Interactions) -> list[str]:
        """Three evaluated users and one unknown user (which gets the popularity fallback)."""
        users = dataset.evaluated_users()[:3]
        return [str(dataset.users[u]) for u in users] + ["no-such-user"]

    # Prediction -------------------------------------------------------------------

    def item_record(self, index: int, score: float) -> dict[str, Any]:
        """``{"item": id, "score": s, "title": ...}`` for the item at column ``index``."""
        item = self.items_[index]
        record: dict[str, Any] = {"item": item, "score": round(float(score), 6)}
        if item in self.titles_:
            record["title"] = self.titles_[item]
        return record

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Top-k items per user id (one record per input), or the items most similar to
        ``similar_to=ITEM``.

        :param options: see :data:`PREDICT_OPTIONS` (checked and converted to their types before
            predict runs). Unknown users get the most popular items, with a message saying so.
        """
        self.check_is_trained()
        k = options.get("k", self.config.k)
        if k < 1:
            raise ConfigError(f"predict option k must be a whole number >= 1, got {k!r}")
        if options.get("similar_to") is not None:
            return self._similar(options["similar_to"], k)
        if inputs is None or (isinstance(inputs, (list, tuple)) and not inputs):
            raise ConfigError("predict needs user ids (or --set similar_to=ITEM for similar items)")
        if isinstance(inputs, (str, int)):
            inputs = [inputs]
        filter_seen = options.get("filter_seen", True)
        index = {u: i for i, u in enumerate(self.users_)}
        rows = [index.get(str(u).strip(), -1) for u in inputs]
        known = np.array([r for r in rows if r >= 0], dtype=np.int64)
        exclude = self.user_items_ if filter_seen else sp.csr_matrix(self.user_items_.shape, dtype=np.float32)
        ids, scores = models.recommend(self.model_, known, exclude, k)
        pop_ids, pop_scores = models.recommend_popular(self.popularity_, np.array([-1]), None, k)
        records, j = [], 0
        for user, row in zip(inputs, rows, strict=True):
            if row >= 0:
                items = [self.item_record(i, s) for i, s in zip(ids[j], scores[j], strict=True) if i >= 0]
                records.append({"user": str(user), "known": True, "items": items})
                j += 1
            else:
                items = [self.item_record(i, s) for i, s in zip(pop_ids[0], pop_scores[0], strict=True) if i >= 0]
                records.append({"user": str(user), "known": False, "items": items,
                                "message": f"unknown user {str(user)!r} (not in the training data): "
                                           "showing the most popular items instead"})
        return records

    def _similar(self, item: str, k: int) -> list[dict[str, Any]]:
        index = {it: i for i, it in enumerate(self.items_)}
        if item.strip() not in index:
            raise DataError(f"unknown item {item!r}: not among the {len(self.items_)} items of the training data")
        i = index[item.strip()]
        ids, scores = models.similar_items(self.model_, i, k)
        record = self.item_record(i, 1.0)
        record.pop("score")
        return [{**record, "similar": [self.item_record(j, s) for j, s in zip(ids, scores, strict=True)]}]

    # Persistence ------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Factors and popularity as ``.npy``, the training matrix as ``.npz``, ids and titles as JSON."""
        from mltasks_recommender.storage import SavedState, save_state

        self.check_is_trained()
        directory = Path(directory)
        self.save_config(directory)
        save_state(directory, SavedState(self.model_.user_factors, self.model_.item_factors, self.popularity_,
                                         self.user_items_, self.users_, self.items_, self.titles_,
                                         getattr(self, "confidence_", {})))

    @classmethod
    def load(cls, directory: Path) -> RecommenderTask:
        """Rebuild a trained task from :meth:`save`'s files (no pickle anywhere).

        :raises DataError: a missing, corrupt or inconsistent file, named.
        """
        from mltasks.errors import MltasksError

        from mltasks_recommender.storage import load_state

        directory = Path(directory)
        try:
            config = cls.load_config(directory)
        except ConfigError:  # another task's config (or edited): load_run names the run and the task
            raise
        except MltasksError as exc:
            raise DataError(str(exc)) from None
        except (UnicodeDecodeError, ValueError, TypeError) as exc:
            raise DataError(f"{directory / 'task_config.json'}: not a valid config ({type(exc).__name__})") from None
        task = cls(config)
        state = load_state(directory)
        task.users_, task.items_, task.titles_ = state.users, state.items, state.titles
        task.confidence_ = state.confidence
        task.user_items_ = state.user_items
        task.popularity_ = state.popularity.astype(np.float64)
        task.model_ = models.restore(task.config, state.user_factors.astype(np.float32),
                                     state.item_factors.astype(np.float32), alpha=state.confidence.get("alpha"))
        return task

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
        """Model vs popularity table and chart, and example recommendations, from what
        ``evaluate`` scored (scored again only when the runner passes no evaluation)."""
        from mltasks_recommender.report import build_report

        if not isinstance(evaluation, Evaluation) or "ids" not in evaluation.details:
            scored, _ = splits.scored()
            evaluation = self.evaluate(scored)
        return build_report(self, splits, evaluation, Path(run_dir))
