"""Training, prediction, persistence, the run directory and the tune search space, on the sample data."""

from __future__ import annotations

import json

import mltasks
import numpy as np
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.errors import ConfigError, DataError, NotTrainedError
from mltasks.progress import Progress, null_progress

from mltasks_recommender.config import RecommenderConfig
from mltasks_recommender.task import RecommenderTask


@pytest.fixture(scope="module")
def trained(sample_csv):
    """ALS trained on the sample data, with its splits."""
    task = RecommenderTask(RecommenderConfig(num_threads=1))
    splits = task.load_data(sample_csv)
    return task.train(splits, null_progress()), splits


def test_model_beats_popularity_on_sample(trained):
    """The sample has taste groups, so ALS finds far more held-out items than popularity."""
    task, splits = trained
    m = task.evaluate(splits.test)
    assert m["precision_at_10"] >= 2 * m["popularity_precision_at_10"]
    assert m["ndcg_at_10"] > m["popularity_ndcg_at_10"]
    assert 0 < m["popularity_coverage"] < m["coverage"] <= 1


def test_predict_known_unknown_and_similar(trained):
    """Top-k per user without seen items; unknown users get popularity with a message."""
    task, splits = trained
    records = task.predict(["u000", "nobody"], k=4)
    known, unknown = records
    assert known["known"] is True and len(known["items"]) == 4
    seen = {splits.train.items[i] for i in splits.train.relevant(0)}
    assert not seen & {r["item"] for r in known["items"]}
    scores = [r["score"] for r in known["items"]]
    assert scores == sorted(scores, reverse=True)
    assert unknown["known"] is False and "unknown user 'nobody'" in unknown["message"]
    top = np.argsort(-task.popularity_, kind="stable")[:4]
    assert [r["item"] for r in unknown["items"]] == [task.items_[i] for i in top]
    # the sample's taste groups are items 0-19, 20-39, 40-59: neighbours stay in the group
    (similar,) = task.predict(similar_to="i001", k=5)
    assert similar["item"] == "i001" and len(similar["similar"]) == 5
    assert all(int(r["item"][1:]) < 20 for r in similar["similar"])
    with pytest.raises(DataError, match="unknown item 'zzz'"):
        task.predict(similar_to="zzz")
    with pytest.raises(ConfigError, match="needs user ids"):
        task.predict([])
    with pytest.raises(NotTrainedError):
        RecommenderTask().predict(["u000"])
    for bad in ("0", "three", 2.5, True):
        with pytest.raises(ConfigError, match="option '?k'?"):  # the type (mltasks), the range (the task)
            task.predict(["u000"], k=bad)
    with pytest.raises(ConfigError, match="valid: k, similar_to, filter_seen"):
        task.predict(["u000"], n=3)


def test_evaluation_details_hold_what_was_scored(trained):
    """The report reads the scored users' top-k lists from the Evaluation, not a stash."""
    task, splits = trained
    evaluation = task.evaluate(splits.test)
    users = evaluation.details["users"]
    assert list(users) == list(splits.test.evaluated_users())
    assert evaluation.details["ids"].shape == (len(users), task.config.k)
    from mltasks_recommender.models import recommend

    ids, _ = recommend(task.model_, users[:2], splits.test.exclude, task.config.k)
    np.testing.assert_array_equal(ids, evaluation.details["ids"][:2])
    scores = evaluation.details["scores"][0]
    assert list(scores) == sorted(scores, reverse=True)
    assert not hasattr(task, "_last_evaluation")


def test_split_follows_the_data_seed_not_the_model_seed(sample_csv):
    """split_seed fixes the held-out rows while seed moves only the model (what tune relies on)."""
    def held(**overrides):
        return RecommenderTask(RecommenderConfig(**overrides)).load_data(sample_csv).test.matrix.nonzero()

    a, b, c = held(seed=0), held(seed=1, split_seed=0), held(seed=1)
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    assert not all(x.shape == y.shape and (x == y).all() for x, y in zip(a, c, strict=True))


def test_few_users_warn_on_the_console(tmp_path):
    """One user makes collaborative filtering meaningless: progress.warn says so (console and log)."""
    rows = ["user,item,rating"] + [f"solo,i{i:02d},5" for i in range(30)]
    path = tmp_path / "one.csv"
    path.write_text("\n".join(rows) + "\n")
    task = RecommenderTask(RecommenderConfig(num_threads=1, smoke=True))
    warnings = []
    progress = Progress(quiet=True)
    progress.subscribe(lambda event: warnings.append(event.message) if event.kind == "warning" else None)
    task.train(task.load_data(path), progress)
    assert len(warnings) == 1 and "1 user" in warnings[0] and "meaningless" in warnings[0]


def test_save_load_without_pickle(trained, tmp_path):
    """Factors as .npy, matrix as .npz, ids as JSON; all load with allow_pickle=False."""
    task, splits = trained
    task.save(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"task_config.json", "user_factors.npy", "item_factors.npy", "popularity.npy",
                     "user_items.npz", "ids.json"}
    from mltasks_recommender.storage import FILES

    assert names == {"task_config.json", *FILES}
    factors = np.load(tmp_path / "item_factors.npy", allow_pickle=False)
    assert factors.shape == (60, task.model_.factors)
    assert json.loads((tmp_path / "ids.json").read_text())["users"][0] == "u000"
    loaded = RecommenderTask.load(tmp_path)
    assert loaded.predict(["u005"]) == task.predict(["u005"])
    assert loaded.evaluate(splits.test) == task.evaluate(splits.test)


def test_run_predict_evaluate_cli(sample_csv, tmp_path):
    """A whole run on the sample data, then ``predict`` and ``evaluate`` on the run directory."""
    result = mltasks.run("recommender", data=sample_csv, out=tmp_path / "run", quick=True,
                         overrides={"num_threads": 1, "eval_every": 2})
    run = result.run_dir
    for name in ("metrics.json", "report.md", "comparison.png", "model/item_factors.npy"):
        assert (run / name).is_file(), name
    report = (run / "report.md").read_text()
    assert "als vs popularity baseline" in report and "Example recommendations" in report
    assert result.metrics["precision_at_10"] > result.metrics["popularity_precision_at_10"]
    assert [h["iteration"] for h in result.history] == [2, 4, 5]  # eval_every=2 over 5 smoke iterations
    out = CliRunner().invoke(cli, ["predict", str(run), "u001", "--set", "k=3", "--json"])
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.output)[0]["items"]) == 3
    out = CliRunner().invoke(cli, ["evaluate", str(run), "--json"])
    assert out.exit_code == 0, out.output
    again = json.loads(out.output)["metrics"]
    assert again["ndcg_at_10"] == pytest.approx(result.metrics["ndcg_at_10"], rel=1e-6)


def test_search_space_resource():
    """The TaskSpec's default search space is valid for ``mltasks tune`` (the core validates it)."""
    from mltasks.plugins import registry
    from mltasks.tune import load_space

    space = load_space(None, RecommenderConfig, registry().get("recommender").spec.search_space)
    assert space.metric == "ndcg_at_10" and space.direction == "maximize"
    assert {p.name for p in space.params} == {"model", "factors", "regularization", "iterations", "alpha",
                                              "learning_rate"}


@pytest.mark.slow
def test_default_data_als_beats_popularity():
    """On MovieLens small, ALS precision@10 is at least 1.5x the popularity baseline."""
    task = RecommenderTask(RecommenderConfig(num_threads=1))
    splits = task.load_data(None)
    assert splits.info["users"] == 671
    m = task.train(splits, null_progress()).evaluate(splits.test)
    assert m["precision_at_10"] >= 1.5 * m["popularity_precision_at_10"]
    assert m["ndcg_at_10"] > m["popularity_ndcg_at_10"]


def test_quick_presets_and_typed_options(trained):
    from mltasks.runner import resolve_config

    assert resolve_config(RecommenderTask, quick=True).factors == 16
    assert resolve_config(RecommenderTask, quick=True, overrides={"factors": "32"}).factors == 32
    assert resolve_config(RecommenderTask).factors == 64
    task, splits = trained
    (record,) = task.predict(["u000"], k="20", filter_seen="false")  # text, as --set gives it
    seen = {splits.train.items[i] for i in splits.train.relevant(0)}
    assert len(record["items"]) == 20 and seen & {r["item"] for r in record["items"]}
    with pytest.raises(ConfigError, match="predict option 'filter_seen': 'maybe' is not a valid bool"):
        task.predict(["u000"], filter_seen="maybe")
