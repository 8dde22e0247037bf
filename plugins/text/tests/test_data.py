"""Every data format round-trips; bad inputs raise DataError naming the file."""

from __future__ import annotations

import csv
import gzip
import json
import warnings
from pathlib import Path

import pytest
from mltasks.errors import DataError

from mltasks_text.data import TextDataset, default_data_path, load_text_splits, write_sample_data


def _rows(sample_csv: Path) -> list[tuple[str, str]]:
    with sample_csv.open(encoding="utf-8") as fh:
        return [(r["text"], r["label"]) for r in csv.DictReader(fh)]


def _all(splits) -> set[tuple[str, str]]:
    return {(t, y) for part in (splits.train, splits.val, splits.test) for t, y in zip(part.texts, part.labels)}


def test_csv_stratified_splits(sample_csv: Path) -> None:
    splits = load_text_splits(sample_csv, seed=3)
    assert splits.sizes() == {"train": 42, "val": 6, "test": 12}
    assert splits.info["labels"] == ["computers", "food", "sports"]
    assert splits.info["counts"]["test"] == {"computers": 4, "food": 4, "sports": 4}  # stratified
    assert _all(splits) == set(_rows(sample_csv))  # nothing lost, nothing duplicated
    again = load_text_splits(sample_csv, seed=3)
    assert again.test.texts == splits.test.texts
    assert load_text_splits(sample_csv, seed=4).test.texts != splits.test.texts


@pytest.mark.parametrize("kind", ["tsv", "jsonl", "jsonl.gz", "folder", "split_folders"])
def test_formats_round_trip(kind: str, sample_csv: Path, tmp_path: Path) -> None:
    rows = _rows(sample_csv)
    if kind == "tsv":
        source = tmp_path / "d.tsv"
        source.write_text("sentence\tcategory\n" + "".join(f"{t}\t{y}\n" for t, y in rows), encoding="utf-8")
    elif kind.startswith("jsonl"):
        payload = "".join(json.dumps({"review": t, "topic": y}) + "\n" for t, y in rows)
        source = tmp_path / f"d.{kind}"
        source.write_bytes(gzip.compress(payload.encode()) if kind.endswith(".gz") else payload.encode())
    elif kind == "folder":
        source = tmp_path / "texts"
        for i, (t, y) in enumerate(rows):
            (source / y).mkdir(parents=True, exist_ok=True)
            (source / y / f"{i:03d}.txt").write_text(t, encoding="utf-8")
    else:
        source = tmp_path / "texts"
        for i, (t, y) in enumerate(rows):
            split = "test" if i % 5 == 0 else "train"
            (source / split / y).mkdir(parents=True, exist_ok=True)
            (source / split / y / f"{i:03d}.txt").write_text(t, encoding="utf-8")
    splits = load_text_splits(source)
    assert _all(splits) == set(rows)
    assert splits.info["labels"] == ["computers", "food", "sports"]
    if kind == "split_folders":
        assert len(splits.test) == 12 and len(splits.val) > 0  # test kept as given; val drawn from train


def test_split_column_and_explicit_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    lines = ["msg,y,split"] + [f"text {i} {'cat' if i % 2 else 'dog'},{'a' if i % 2 else 'b'},"
                               f"{'validation' if i < 4 else 'test' if i < 10 else 'train'}" for i in range(30)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="d.csv.*text column"):
        load_text_splits(path)  # "msg" is not a known text column name
    splits = load_text_splits(path, text_col="msg", label_col="y")
    assert splits.sizes() == {"train": 20, "val": 4, "test": 6}


def test_default_data_loads_offline() -> None:
    path = default_data_path()
    assert path.is_file() and path.stat().st_size < 500_000  # shipped in the package, small
    splits = load_text_splits(None)
    assert len(splits.info["labels"]) == 10
    assert sum(splits.sizes().values()) == 1756
    texts = splits.train.texts + splits.val.texts + splits.test.texts
    assert len(set(texts)) == len(texts)  # deduplicated: no text in two splits
    smoke = load_text_splits(None, smoke=True)
    assert sum(smoke.sizes().values()) == 120  # 12 per class


def test_max_per_class(sample_csv: Path) -> None:
    splits = load_text_splits(sample_csv, max_per_class=10)
    assert sum(splits.sizes().values()) == 30


@pytest.mark.filterwarnings("ignore:.*skipped")
def test_bad_inputs_raise_data_error(bad_input: Path) -> None:
    with pytest.raises(DataError) as info:
        load_text_splits(bad_input)
    assert bad_input.name in str(info.value)


def test_recoverable_problems_warn(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        for i in range(6):
            (folder / label / f"{i}.txt").write_text(f"{label} text number {i}")
    (folder / "a" / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (folder / "b" / "empty.txt").write_text("   ")
    (folder / "c").mkdir()
    (folder / "c" / "only.txt").write_text("a lonely example")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = load_text_splits(folder)
    messages = " | ".join(str(w.message) for w in caught)
    assert "latin1.txt: not valid UTF-8" in messages
    assert "1 empty text" in messages
    assert "single example" in messages and "c" in messages
    assert any("caf\ufffd au lait" == t for t in splits.train.texts + splits.val.texts + splits.test.texts)


def test_unlabelled_table(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    path.write_text("".join(json.dumps({"text": f"line {i}"}) + "\n" for i in range(20)))
    splits = load_text_splits(path, require_labels=False)
    assert splits.train.labels == [] and not splits.test_labelled and sum(splits.sizes().values()) == 20


def test_sample_data_is_a_real_csv(tmp_path: Path) -> None:
    path = write_sample_data(tmp_path)
    assert path.suffix == ".csv" and len(_rows(path)) == 60
    assert isinstance(load_text_splits(path).train, TextDataset)
