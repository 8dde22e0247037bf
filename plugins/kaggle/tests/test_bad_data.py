"""Bad competition files end in exit status 2 and one ``Error:`` line naming the file."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner
from kaggle_competitions import synthetic, write_competition
from mltasks.cli import cli


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_clean_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture
def competition(tmp_path):
    return write_competition(tmp_path / "comp", synthetic(80, "binary"))


def test_missing_target(competition, tmp_path):
    pd.read_csv(competition / "train.csv").drop(columns=["y"]).to_csv(competition / "train.csv", index=False)
    result = run_cli("run", "kaggle", "--data", str(competition), "--quick", "--out", str(tmp_path / "r"))
    assert_clean_error(result, "train.csv", "no target column 'y'")
    assert not (tmp_path / "r").exists()


def test_all_nan_column(competition, tmp_path):
    train = pd.read_csv(competition / "train.csv")
    train["empty"] = float("nan")
    train.to_csv(competition / "train.csv", index=False)
    result = run_cli("run", "kaggle", "--data", str(competition), "--quick", "--out", str(tmp_path / "r"))
    assert_clean_error(result, "train.csv", "'empty'", "no values")


def test_test_csv_with_other_columns(competition, tmp_path):
    test = pd.read_csv(competition / "test.csv").rename(columns={"x1": "feature_one"})
    test.to_csv(competition / "test.csv", index=False)
    result = run_cli("run", "kaggle", "--data", str(competition), "--quick", "--out", str(tmp_path / "r"))
    assert_clean_error(result, "test.csv", "feature_one")


def test_non_utf8_bytes(competition, tmp_path):
    raw = (competition / "train.csv").read_bytes().replace(b"red", b"r\xe9d", 1)
    (competition / "train.csv").write_bytes(raw)
    result = run_cli("run", "kaggle", "--data", str(competition), "--quick", "--out", str(tmp_path / "r"))
    assert_clean_error(result, "train.csv", "not UTF-8")


def test_sample_ids_not_in_test(competition, tmp_path):
    sample = pd.read_csv(competition / "sample_submission.csv")
    sample.loc[0, "id"] = 99999
    sample.to_csv(competition / "sample_submission.csv", index=False)
    result = run_cli("run", "kaggle", "--data", str(competition), "--quick", "--set", "models=linear",
                     "--out", str(tmp_path / "r"))
    assert_clean_error(result, "sample_submission.csv", "ids do not match")


def test_subprocess_run_and_predict(competition, tmp_path):
    """The real command line once: run on a folder, then predict new rows from a CSV."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "mltasks", "run", "kaggle", "--data", str(competition), "--quick",
           "--set", "models=linear", "num_threads=1", "--out", str(run_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    new = tmp_path / "new.csv"
    pd.read_csv(competition / "test.csv").head(3).to_csv(new, index=False)
    done = subprocess.run([sys.executable, "-m", "mltasks", "predict", str(run_dir), str(new), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count('"prediction"') == 3
    pd.read_csv(new).drop(columns=["colour"]).to_csv(new, index=False)
    done = subprocess.run([sys.executable, "-m", "mltasks", "predict", str(run_dir), str(new)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "new.csv" in done.stderr and "colour" in done.stderr, done.stderr


def test_non_utf8_byte_position_is_the_file_offset_and_line(tmp_path):
    folder = tmp_path / "comp"
    folder.mkdir()
    header = b"id,x1,colour,y\n"
    first = b"1000,0.5,green,1\n"
    rest = b"".join(b"%d,0.1,blue,%d\n" % (i, i % 2) for i in range(1002, 1040))
    raw = header + first + b"1001,0.7,r\xe9d,0\n" + rest
    (folder / "train.csv").write_bytes(raw)
    offset = raw.index(b"\xe9")
    assert offset == 42 and raw.count(b"\n", 0, offset) + 1 == 3
    result = run_cli("run", "kaggle", "--data", str(folder / "train.csv"), "--quick", "--set", "target=y",
                     "--out", str(tmp_path / "r"))
    assert_clean_error(result, "train.csv", "byte offset 42, line 3", "0xe9")


def test_non_utf8_byte_far_into_a_large_file_is_located(tmp_path):
    path = tmp_path / "train.csv"
    rows = [b"id,x,y\n"] + [b"%d,%d,%d\n" % (i, i % 7, i % 2) for i in range(200_000)]
    rows[150_000] = b"150000,\xff,0\n"
    raw = b"".join(rows)
    path.write_bytes(raw)
    result = run_cli("run", "kaggle", "--data", str(path), "--quick", "--set", "target=y", "--out",
                     str(tmp_path / "r"))
    offset = raw.index(bytes([0xFF]))
    assert_clean_error(result, "train.csv", f"byte offset {offset}, line 150001")


def test_sample_submission_without_test_csv_is_refused(competition, tmp_path):
    (competition / "test.csv").unlink()
    result = run_cli("run", "kaggle", "--data", str(competition), "--quick", "--out", str(tmp_path / "r"))
    assert_clean_error(result, "test.csv", "missing", "sample_submission.csv", "implies a test set")
    assert not (tmp_path / "r").exists()
