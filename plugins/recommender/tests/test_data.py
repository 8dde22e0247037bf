"""Reading the accepted layouts, splitting per user, and bad files (exit 2 naming the problem)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.errors import ConfigError, DataError

from mltasks_recommender.config import RecommenderConfig
from mltasks_recommender.data import read_source
from mltasks_recommender.split import build_splits
from mltasks_recommender.task import RecommenderTask


def _rows(n_users: int = 4, n_items: int = 20) -> list[tuple[int, int, float, int]]:
    rows = []
    for u in range(1, n_users + 1):
        for i in range(1, n_items + 1):
            rows.append((u, i, 5.0 if (u + i) % 4 else 2.0, 1000 * u + i))
    return rows


def test_movielens_layouts_read_the_same(tmp_path):
    """u.data (tabs), ratings.dat (::) and ratings.csv (header) give the same interactions."""
    rows = _rows()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "u.data").write_text("".join(f"{u}\t{i}\t{r:g}\t{t}\n" for u, i, r, t in rows))
    (tmp_path / "a" / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995\n", encoding="latin-1")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "ratings.dat").write_text("".join(f"{u}::{i}::{r:g}::{t}\n" for u, i, r, t in rows))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows))
    (tmp_path / "c" / "movies.csv").write_text('movieId,title,genres\n1,"Toy Story (1995)",Animation\n')
    config = RecommenderConfig()
    frames = [read_source(tmp_path / d, config) for d in "abc"]
    for raw in frames:
        assert list(raw.frame.columns) == ["user", "item", "rating", "timestamp"]
        assert len(raw.frame) == len(rows)
        assert raw.frame["rating"].sum() == pytest.approx(sum(r for _, _, r, _ in rows))
        assert raw.frame.equals(frames[0].frame)
    assert frames[0].titles["1"] == frames[2].titles["1"] == "Toy Story (1995)"


def test_auto_detected_columns_tsv_with_dates(tmp_path):
    """Column names and order are free; dates become timestamps; no rating column is fine."""
    path = tmp_path / "events.tsv"
    lines = ["event_time\tproduct_id\tcustomer_id"]
    lines += [f"2024-01-{1 + i % 28:02d}\tp{i}\tc{u}" for u in range(3) for i in range(20)]
    path.write_text("\n".join(lines) + "\n")
    raw = read_source(path, RecommenderConfig())
    assert list(raw.frame.columns) == ["user", "item", "timestamp"]
    assert raw.frame["user"].iloc[0] == "c0" and raw.frame["item"].iloc[1] == "p1"
    splits = build_splits(raw, RecommenderConfig(split="latest"))
    # latest split: each user's test items are the 5 newest dates, val the 5 before
    test_items = {splits.test.items[i] for i in splits.test.relevant(0)}
    assert test_items == {f"p{i}" for i in range(15, 20)}
    assert {splits.val.items[i] for i in splits.val.relevant(0)} == {f"p{i}" for i in range(10, 15)}


def test_split_rules(sample_csv):
    """Seeded and repeatable; rating filter applied; thin users stay in train only."""
    raw = read_source(sample_csv, RecommenderConfig())
    first = build_splits(raw, RecommenderConfig(seed=3))
    again = build_splits(raw, RecommenderConfig(seed=3))
    other = build_splits(raw, RecommenderConfig(seed=4))
    assert (first.test.matrix != again.test.matrix).nnz == 0
    assert (first.test.matrix != other.test.matrix).nnz > 0
    # 80 users x 18 liked items (4+ stars); the 5 low ratings per user are dropped
    assert first.info["interactions"] == 80 * 18
    assert len(first.train) == 80 * 8 and len(first.val) == len(first.test) == 80 * 5
    no_overlap = first.train.matrix.multiply(first.test.matrix).nnz + first.val.matrix.multiply(first.test.matrix).nnz
    assert no_overlap == 0
    with pytest.raises(DataError, match="no user has 19 interactions"):  # 2 x 5 + 9 > 18: all in train
        build_splits(raw, RecommenderConfig(holdout=5, min_train_items=9))
    kept_all = build_splits(raw, RecommenderConfig(min_rating=0))
    assert kept_all.info["interactions"] == 80 * 23


def test_split_latest_needs_timestamps(tmp_path):
    """split=latest on a file without timestamps is a config error naming the file."""
    path = tmp_path / "x.csv"
    path.write_text("user,item\n" + "".join(f"{u},{i}\n" for u in range(2) for i in range(20)))
    with pytest.raises(ConfigError, match="x.csv"):
        build_splits(read_source(path, RecommenderConfig()), RecommenderConfig(split="latest"))


BAD_FILES = {
    "missing column": ("name,rating\nann,5\n", [], "missing user column"),
    "unknown set column": ("user,item,rating\n1,2,5\n", ["item_col=product"], "no column 'product'"),
    "non-numeric rating": ("user,item,rating\n1,2,5\n1,3,good\n", [], "line 3: rating 'good'"),
    "empty file": ("", [], "the file is empty"),
    "header only": ("user,item,rating\n", [], "no interactions"),
}


@pytest.mark.parametrize("content, sets, message", BAD_FILES.values(), ids=list(BAD_FILES))
def test_bad_files_exit_2_naming_the_problem(tmp_path, content, sets, message):
    """``mltasks run recommender --data BAD`` exits 2 with one Error line naming the file and problem."""
    path = tmp_path / "bad.csv"
    path.write_text(content)
    args = ["run", "recommender", "--data", str(path), "--quick", "--out", str(tmp_path / "run")]
    for item in sets:
        args += ["--set", item]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output and str(path) in result.output and message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_bad_file_subprocess(tmp_path):
    """The same through the real console script: exit 2, no traceback."""
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating\n1,2,five\n")
    exe = Path(sys.executable).with_name("mltasks")
    proc = subprocess.run([str(exe), "run", "recommender", "--data", str(path), "--quick", "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{path}: line 2: rating 'five'" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_garbage_and_empty_folder(tmp_path):
    """Binary data and a folder without an interactions file raise DataError naming the path."""
    junk = tmp_path / "junk.csv"
    junk.write_bytes(np.random.default_rng(0).bytes(2048))
    task = RecommenderTask(RecommenderConfig())
    with pytest.raises(DataError, match="junk.csv: not a text file"):
        task.load_data(junk)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="nothing: no interactions file"):
        task.load_data(tmp_path / "nothing")
