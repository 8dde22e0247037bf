"""The ``recommender`` task: implicit-feedback recommendation with ranking metrics.

    mltasks run recommender                                  # ALS on MovieLens small
    mltasks run recommender --data ratings.csv --set model=bpr
    mltasks predict runs/recommender-... 1 42 --set k=5
    mltasks predict runs/recommender-... --set similar_to=318
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from mltasks import Splits, Task
from mltasks.errors import ConfigError, DataError
from mltasks.progress import Progress, null_progress
from mltasks.report import Report

from mltasks_recommender import models
from mltasks_recommender.config import RecommenderConfig
from mltasks_recommender.data import load_default, read_source
from mltasks_recommender.metrics import ranking_metrics
from mltasks_recommender.split import Interactions, build_splits


class RecommenderTask(Task):
    """Top-k recommendation from implicit feedback with implicit's ALS/BPR/LMF and a popularity baseline.

    Learned state: ``model_`` (the implicit model), ``popularity_`` (item scores),
    ``user_items_`` (the training matrix, filtered out of recommendations), ``users_`` and
    ``items_`` (raw ids per row/column), ``titles_``.
    """

    Config = RecommenderConfig
    config: RecommenderConfig

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

    def train(self, splits: Splits, progress: Progress | None = None) -> RecommenderTask:
        """Fit the popularity baseline and the implicit model on ``splits.train``."""
        progress = progress or null_progress()
        train: Interactions = splits.train
        if not isinstance(train, Interactions) or not len(train):
            raise DataError("the train split holds no interactions")
        self.users_ = list(train.users)
        self.items_ = list(train.items)
        self.titles_ = dict(train.titles)
        self.user_items_ = train.matrix
        self.popularity_ = models.popularity(train.matrix)
        model = models.build_model(self.config)
        progress.log(f"recommender: {self.config.model} with {model.factors} factors, {model.iterations} iterations "
                     f"on {len(self.users_)} users x {len(self.items_)} items ({len(train)} interactions)")
        val = splits.val if isinstance(splits.val, Interactions) and len(splits.val) else None
        callback = None
        if val is not None and self.config.eval_every > 0:
            every = self.config.eval_every

            def callback(iteration: int, elapsed: float, loss: Any) -> None:
                if (iteration + 1) % every == 0 and iteration + 1 < model.iterations:
                    self.model_ = model
                    progress.report(iteration + 1, **self._val_metrics(val))

        with progress.bar(f"fitting {self.config.model}", total=None):
            models.fit(model, train.matrix, self.config, callback)
        self.model_ = model
        if callback is not None and val is not None:  # the last point of the learning curve
            progress.report(model.iterations, **self._val_metrics(val))
        return self

    def _val_metrics(self, val: Interactions) -> dict[str, float]:
        k = self.config.k
        scores = self._scores(val, include_baseline=False)
        return {f"val_{name}": scores[f"{name}_at_{k}"] for name in ("precision", "ndcg", "map")}

    def _scores(self, dataset: Interactions, include_baseline: bool = True) -> dict[str, float]:
        k = self.config.k
        exclude = dataset.exclude if dataset.exclude is not None else self.user_items_
        users = dataset.evaluated_users()
        relevant = [dataset.relevant(u) for u in users]
        ids, _ = models.recommend(self.model_, users, exclude, k)
        out = ranking_metrics(ids, relevant, k, len(self.items_))
        if include_baseline:
            pop_ids, _ = models.recommend_popular(self.popularity_, users, exclude, k)
            baseline = ranking_metrics(pop_ids, relevant, k, len(self.items_))
            out.update({f"popularity_{name}": value for name, value in baseline.items()})
        return out

    def evaluate(self, dataset: Interactions) -> dict[str, float]:
        """precision/recall/MAP/NDCG at k and coverage for the model, and the same for popularity."""
        self.check_is_trained()
        if not isinstance(dataset, Interactions):
            raise DataError(f"evaluate expects a split from load_data, got {type(dataset).__name__}")
        if dataset.matrix.shape != self.user_items_.shape:
            raise DataError("the split's id maps differ from the model's: load it with this task's load_data")
        scores = self._scores(dataset)
        self._last_evaluation = (dataset, self.model_, scores)  # the report reuses it (not learned state)
        return dict(scores)

    def example_inputs(self, dataset: Interactions) -> list[str]:
        """Three evaluated users and one unknown user (which gets the popularity fallback)."""
        users = dataset.evaluated_users()[:3]
        return [str(dataset.users[u]) for u in users] + ["no-such-user"]

    # Prediction -------------------------------------------------------------------

    def _item_record(self, index: int, score: float) -> dict[str, Any]:
        item = self.items_[index]
        record: dict[str, Any] = {"item": item, "score": round(float(score), 6)}
        if item in self.titles_:
            record["title"] = self.titles_[item]
        return record

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Top-k items per user id, or the items most similar to ``similar_to=ITEM``.

        Options: ``k`` (list length, default config.k), ``similar_to`` (an item id),
        ``filter_seen`` (default true: never recommend a user's training items).
        Unknown users get the most popular items, with a message saying so.
        """
        self.check_is_trained()
        unknown = set(options) - {"k", "similar_to", "filter_seen"}
        if unknown:
            raise ConfigError(f"unknown predict option(s) {', '.join(sorted(unknown))}; "
                              "valid: k, similar_to, filter_seen")
        k = int(options.get("k", self.config.k))
        if k < 1:
            raise ConfigError(f"predict option k must be at least 1, got {k}")
        if options.get("similar_to") is not None:
            return self._similar(str(options["similar_to"]), k)
        if inputs is None or (isinstance(inputs, (list, tuple)) and not inputs):
            raise ConfigError("predict needs user ids (or --set similar_to=ITEM for similar items)")
        if isinstance(inputs, (str, int)):
            inputs = [inputs]
        filter_seen = options.get("filter_seen", True)
        if isinstance(filter_seen, str):
            filter_seen = filter_seen.strip().lower() not in ("0", "false", "no", "off")
        index = {u: i for i, u in enumerate(self.users_)}
        rows = [index.get(str(u).strip(), -1) for u in inputs]
        known = np.array([r for r in rows if r >= 0], dtype=np.int64)
        exclude = self.user_items_ if filter_seen else sp.csr_matrix(self.user_items_.shape, dtype=np.float32)
        ids, scores = models.recommend(self.model_, known, exclude, k)
        pop_ids, pop_scores = models.recommend_popular(self.popularity_, np.array([-1]), None, k)
        records, j = [], 0
        for user, row in zip(inputs, rows, strict=True):
            if row >= 0:
                items = [self._item_record(i, s) for i, s in zip(ids[j], scores[j], strict=True) if i >= 0]
                records.append({"user": str(user), "known": True, "items": items})
                j += 1
            else:
                items = [self._item_record(i, s) for i, s in zip(pop_ids[0], pop_scores[0], strict=True) if i >= 0]
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
        record = self._item_record(i, 1.0)
        record.pop("score")
        return [{**record, "similar": [self._item_record(j, s) for j, s in zip(ids, scores, strict=True)]}]

    # Persistence ------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Factors and popularity as ``.npy``, the training matrix as ``.npz``, ids and titles as JSON."""
        self.check_is_trained()
        directory = Path(directory)
        self.save_config(directory)
        np.save(directory / "user_factors.npy", np.asarray(self.model_.user_factors), allow_pickle=False)
        np.save(directory / "item_factors.npy", np.asarray(self.model_.item_factors), allow_pickle=False)
        np.save(directory / "popularity.npy", self.popularity_, allow_pickle=False)
        m = self.user_items_
        np.savez(directory / "user_items.npz", data=m.data, indices=m.indices, indptr=m.indptr,
                 shape=np.array(m.shape, dtype=np.int64))
        ids = {"users": self.users_, "items": self.items_, "titles": self.titles_}
        (directory / "ids.json").write_text(json.dumps(ids, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> RecommenderTask:
        """Rebuild a trained task from :meth:`save`'s files (no pickle anywhere)."""
        directory = Path(directory)
        config = cls.load_config(directory)
        task = cls(config)
        try:
            ids = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
            with np.load(directory / "user_items.npz", allow_pickle=False) as z:
                task.user_items_ = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            user_factors = np.load(directory / "user_factors.npy", allow_pickle=False)
            item_factors = np.load(directory / "item_factors.npy", allow_pickle=False)
            task.popularity_ = np.load(directory / "popularity.npy", allow_pickle=False)
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{directory}: not a saved recommender model ({exc})") from None
        task.users_, task.items_, task.titles_ = ids["users"], ids["items"], ids.get("titles", {})
        task.model_ = models.restore(task.config, user_factors, item_factors)
        return task

    def report(self, splits: Splits, run_dir: Path) -> Report:
        """Model vs popularity table and chart, and example recommendations."""
        from mltasks_recommender.report import build_report

        test = splits.test if splits.test is not None else splits.val
        last = getattr(self, "_last_evaluation", None)
        if last is not None and last[0] is test and last[1] is self.model_:
            scores = dict(last[2])
        else:
            scores = self.evaluate(test)
        return build_report(self, splits, scores, Path(run_dir))
