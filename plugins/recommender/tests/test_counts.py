"""Implicit counts (plays) are told from ratings, keep every pair, and become confidence chosen on
validation; heavy filters and a model that loses to popularity are said plainly."""

from __future__ import annotations

import csv
import json

import mltasks
import numpy as np
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.config import quick_config
from mltasks.progress import Progress

from mltasks_recommender.confidence import COUNT_SCHEMES, weigh
from mltasks_recommender.config import RecommenderConfig
from mltasks_recommender.play_counts import play_counts, write_play_counts
from mltasks_recommender.task import RecommenderTask
from mltasks_recommender.values import detect_value_kind

FAST = {"num_threads": 1}


@pytest.fixture(scope="module")
def plays_csv(tmp_path_factory):
    """The generated play-count log: 300 users, 120 tracks in 6 genres, counts 1 to a few hundred."""
    return write_play_counts(tmp_path_factory.mktemp("plays") / "plays.csv")


def _events(task, splits):
    """Train, collecting log lines and warnings."""
    events = {"log": [], "warning": []}
    progress = Progress(quiet=True)
    progress.subscribe(lambda e: events[e.kind].append(e.message) if e.kind in events else None)
    task.train(splits, progress)
    return events


@pytest.mark.parametrize(("values", "kind"), [
    ([4, 5, 3, 4, 5, 2, 4, 1, 5, 4], "rating"),  # 1-5 stars: median near the top
    ([3.5, 4.0, 0.5, 5.0], "rating"),  # half stars
    ([-2, 3, 7], "rating"),  # a signed scale
    ([1, 1, 2, 1, 3, 1, 14, 2, 1, 40], "count"),  # plays: median 1, max 40
    ([1, 1, 1, 0, 1], "count"),  # presence
    ([7, 8, 9, 10, 6, 8], "rating"),  # 1-10 points
])
def test_value_kind_rule(values, kind):
    assert detect_value_kind(values).kind == kind
    assert detect_value_kind(values, "count").kind == "count"  # value_kind overrides the rule


def test_play_counts_are_detected_and_min_rating_drops_nothing(plays_csv):
    rows = play_counts()
    plays = np.array([r[2] for r in rows])
    assert len(rows) == 7198 and plays.max() == 434 and np.median(plays) == 3
    assert (plays < 4).mean() == pytest.approx(0.5603, abs=1e-4)  # what min_rating=4 used to drop
    splits = RecommenderTask(RecommenderConfig(**FAST)).load_data(plays_csv)
    assert splits.info["values"] == "count" and "long right tail" in splits.info["values_rule"]
    assert splits.info["min_rating"] is None and splits.info["filters"] == []
    assert splits.info["interactions"] == len(rows)  # every pair kept
    assert len(splits.train) + len(splits.val) + len(splits.test) == len(rows)
    # the training matrix keeps the counts; the held-out splits mark relevance with 1
    train = splits.train.matrix
    assert train.max() > 100 and (train.data == 1).mean() == pytest.approx((plays == 1).mean(), abs=0.02)
    assert set(np.unique(splits.test.matrix.data)) == {1.0}


def test_counts_become_confidence_chosen_on_validation(plays_csv, tmp_path):
    """The weighting and alpha chosen are logged, saved with the model and shown in the report."""
    task = RecommenderTask(RecommenderConfig(**FAST))
    splits = task.load_data(plays_csv)
    events = _events(task, splits)
    assert any("values are counts" in m for m in events["log"]), events["log"]
    assert events["warning"] == []  # nothing dropped, and the model is ahead of popularity
    chosen = task.confidence_
    assert chosen["weighting"] in COUNT_SCHEMES and chosen["normalized"] is True
    assert len(chosen["candidates"]) == 9 and "chosen by validation NDCG@10 over 9 fits" in chosen["how"]
    best = max(chosen["candidates"], key=lambda c: c["val_ndcg"])
    assert (best["weighting"], best["alpha"]) == (chosen["weighting"], chosen["alpha"])
    low = next(c for c in chosen["candidates"] if c["alpha"] == 1.0)
    assert best["val_ndcg"] > 1.3 * low["val_ndcg"]  # the scale matters: alpha 1 is far behind
    assert any(f"confidence {chosen['weighting']} x alpha" in m for m in events["log"])
    m = task.evaluate(splits.test)
    assert m["precision_at_10"] > 2 * m["popularity_precision_at_10"]
    assert task.validation_["precision_at_10"] > task.validation_["popularity_precision_at_10"]
    task.save(tmp_path)
    assert json.loads((tmp_path / "ids.json").read_text())["confidence"]["weighting"] == chosen["weighting"]
    loaded = RecommenderTask.load(tmp_path)
    assert loaded.confidence_ == chosen and loaded.predict(["u0003"]) == task.predict(["u0003"])


def test_weightings_scale_to_mean_one():
    import scipy.sparse as sp

    counts = sp.csr_matrix(np.array([[1.0, 0, 30], [2, 5, 0], [0, 1, 1]]))
    for scheme in COUNT_SCHEMES:
        w = weigh(counts, scheme, normalize=True)
        assert w.nnz == counts.nnz and w.data.mean() == pytest.approx(1.0) and (w.data > 0).all()
    log = weigh(counts, "log")
    assert log[0, 2] == pytest.approx(1 + np.log(31))
    assert weigh(counts, "linear")[0, 2] == 30 and set(weigh(counts, "binary").data) == {1.0}


def test_a_filter_that_drops_over_10_percent_warns(sample_csv, tmp_path):
    """min_rating on ratings (the sample: 5 of 23 ratings per user are low) and zero counts."""
    task = RecommenderTask(quick_config(RecommenderConfig(**FAST)))
    splits = task.load_data(sample_csv)
    (step,) = splits.info["filters"]
    assert step["dropped"] == 400 and step["total"] == 1840 and step["fraction"] == pytest.approx(0.2174, abs=1e-4)
    events = _events(task, splits)
    assert any("min_rating: ratings below 4 dropped 400 of 1,840 rows (21.7%)" in w for w in events["warning"])

    rows = [r for r in csv.reader(plays_csv_text().splitlines())][1:]
    for share, warns in ((0.15, True), (0.05, False)):
        path = tmp_path / f"zeros-{share}.csv"
        zeros = [[f"z{i:04d}", f"t{i % 120:04d}", "0"] for i in range(int(share / (1 - share) * len(rows)))]
        with path.open("w", newline="") as fh:
            csv.writer(fh).writerows([["user_id", "track_id", "plays"], *rows, *zeros])
        task = RecommenderTask(quick_config(RecommenderConfig(confidence="linear", alpha=100.0, **FAST)))
        splits = task.load_data(path)
        assert splits.info["filters"][0]["dropped"] == len(zeros)
        events = _events(task, splits)
        said = [w for w in events["warning"] if "counts of 0" in w]
        assert bool(said) is warns, events
        if not warns:
            assert any("counts of 0" in m for m in events["log"])  # still logged, as a fact


def plays_csv_text() -> str:
    rows = ["user_id,track_id,plays"] + [f"{u},{i},{c}" for u, i, c in play_counts()]
    return "\n".join(rows) + "\n"


def test_console_and_report_say_when_popularity_wins(tmp_path):
    """Users who all pick from the same few hits, with no taste structure: popularity wins."""
    rng = np.random.default_rng(3)
    weights = 1.0 / np.arange(1, 81) ** 1.3
    lines = ["user,item"]
    for user in range(100):
        for item in rng.choice(80, size=20, replace=False, p=weights / weights.sum()):
            lines.append(f"v{user:03d},i{item:03d}")
    path = tmp_path / "hits.csv"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["run", "recommender", "--data", str(path), "--quick", "--set", "num_threads=1",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    said = "Warning: recommender: popularity beats als on validation"
    warning = [line for line in result.output.splitlines() if line.startswith(said)]
    assert len(warning) == 1, result.output
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Warnings" in report and "popularity beats als on validation" in report
    assert report.index("## Warnings") < report.index("als vs popularity baseline")
    assert "No value column: each user-item pair is one interaction." in report
    assert json.loads((tmp_path / "run" / "run.json").read_text())["data"]["info"]["values"] == "none"


def test_cli_run_on_counts_shows_the_kind(plays_csv, tmp_path):
    result = mltasks.run("recommender", data=plays_csv, out=tmp_path / "run", quick=True, overrides=FAST)
    info = json.loads((result.run_dir / "run.json").read_text())["data"]["info"]
    assert info["values"] == "count" and info["filters"] == []
    report = (result.run_dir / "report.md").read_text()
    assert "Values: **count**" in report and "`min_rating` does not apply to counts" in report
    assert "## Confidence candidates (validation)" in report and "| yes |" in report
    assert "## Warnings" not in report
    assert result.metrics["precision_at_10"] > result.metrics["popularity_precision_at_10"]
