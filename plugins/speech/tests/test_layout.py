"""Dataset layouts and splits: speaker splits never leak; given lists and folders are honoured."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mltasks.errors import DataError

from mltasks_speech.config import SpeechConfig
from mltasks_speech.default_data import (
    digits_dir,
    engine_of,
    engine_strata,
    first_release,
    is_shifted,
    speaker_of_voice,
    split_default,
)
from mltasks_speech.keyword import load_keyword
from mltasks_speech.layout import assign_splits, find_items, speaker_of, split_groups


def _clip(path: Path, freq: float = 440.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(4000) / 16000
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000)


def test_speaker_ids_from_file_names() -> None:
    assert speaker_of(Path("yes/0a7c2a8d_nohash_1.wav")) == "0a7c2a8d"
    assert speaker_of(Path("7_jackson_32.wav")) == "jackson"
    assert speaker_of(Path("espeak-en-us-m3_nohash_2.flac")) == "espeak-en-us-m3"
    assert speaker_of(Path("hello.wav")) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_split_holds_out_whole_people_and_several_voices(seed: int) -> None:
    items, layout = find_items(digits_dir())
    assert layout == "word folders" and len(items) >= 3000
    kept, how = split_default(items, 0.15, 0.15, seed)
    assert how.startswith("by person")
    people = {s: {speaker_of_voice(str(i.speaker)) for i in kept if i.split == s} for s in ("train", "val", "test")}
    assert people["train"] and people["val"] and people["test"]
    assert not people["train"] & people["test"]  # the same person under flite and Festival is one speaker
    assert not people["train"] & people["val"]
    assert not people["val"] & people["test"]
    test_voices = {str(i.speaker) for i in kept if i.split == "test"}
    engines = Counter(engine_of(v) for v in test_voices)
    assert engines["espeak"] >= 8 and engines["flite"] >= 1 and engines["festival"] >= 1
    assert engines["flite"] + engines["festival"] >= 3  # one recorded voice cannot decide the score
    assert len({speaker_of_voice(v) for v in test_voices if engine_of(v) != "espeak"}) == 2
    assert not any(is_shifted(v) for v in test_voices)  # variants are training material only
    trained = {engine_of(str(i.speaker)) for i in kept if i.split == "train"}
    assert trained == {"espeak", "flite", "festival", "accented"}
    accented = [i for i in kept if engine_of(str(i.speaker)) == "accented"]
    assert {i.split for i in accented} == {"train"}  # speakers of other languages: training material only
    assert len({i.speaker for i in accented}) == 12 and "12 accented voices in training" in how
    again, _ = split_default(find_items(digits_dir())[0], 0.15, 0.15, seed)
    assert [(i.path, i.split) for i in again] == [(i.path, i.split) for i in kept]


def test_voices_map_to_the_people_behind_them() -> None:
    assert speaker_of_voice("flite-slt") == speaker_of_voice("festival-slt") == speaker_of_voice("flite-slt-lo")
    assert speaker_of_voice("flite-kal") == speaker_of_voice("festival-kal") != speaker_of_voice("festival-ked")
    assert speaker_of_voice("espeak-en-us-m3") == "espeak-en-us-m3"
    assert is_shifted("flite-kal-hi") and not is_shifted("flite-kal") and not is_shifted("espeak-en-us-m3")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_release_split_never_leaks(seed: int) -> None:
    """Transcription builds on the first release's voices (espeak-ng and flite's own four)."""
    items = first_release(find_items(digits_dir())[0])
    assert {engine_of(str(i.speaker)) for i in items} == {"espeak", "flite"} and len(items) == 2280
    how = assign_splits(items, 0.15, 0.15, seed, engine_strata(items))
    assert how.startswith("by speaker")
    speakers = {s: {i.speaker for i in items if i.split == s} for s in ("train", "val", "test")}
    assert speakers["train"] and speakers["val"] and speakers["test"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["train"] & speakers["val"]
    assert not speakers["val"] & speakers["test"]
    for split in ("val", "test"):  # both engines are held out in val and test
        assert {str(s).split("-")[0] for s in speakers[split]} == {"espeak", "flite"}


def test_split_groups_fractions() -> None:
    plan = split_groups([f"s{i}" for i in range(20)], 0.2, 0.3, seed=0)
    counts = {k: list(plan.values()).count(k) for k in ("train", "val", "test")}
    assert counts == {"train": 10, "val": 4, "test": 6}
    assert plan == split_groups([f"s{i}" for i in range(20)], 0.2, 0.3, seed=0)


def test_speech_commands_lists(tmp_path: Path) -> None:
    for word in ("yes", "no"):
        for k in range(4):
            _clip(tmp_path / word / f"spk{k}_nohash_0.wav")
    _clip(tmp_path / "_background_noise_" / "white.wav")
    (tmp_path / "validation_list.txt").write_text("yes/spk1_nohash_0.wav\nno/spk1_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("yes/spk2_nohash_0.wav\nno/spk2_nohash_0.wav\n")
    splits = load_keyword(tmp_path, SpeechConfig())
    assert (len(splits.train), len(splits.val), len(splits.test)) == (4, 2, 2)
    assert splits.train.classes == ["no", "yes"]  # _background_noise_ is not a word
    assert set(splits.test.speakers) == {"spk2"}
    assert splits.train.noise is not None  # the background noise feeds augmentation


def test_train_val_test_folders(tmp_path: Path) -> None:
    for split, n in (("train", 3), ("val", 1), ("test", 2)):
        for word in ("up", "down"):
            for k in range(n):
                _clip(tmp_path / split / word / f"{split}{k}.wav")
    splits = load_keyword(tmp_path, SpeechConfig())
    assert (len(splits.train), len(splits.val), len(splits.test)) == (6, 2, 4)
    assert splits.info["layout"] == "train/val/test folders"


def test_fsdd_flat_folder(tmp_path: Path) -> None:
    for digit in range(3):
        for speaker in ("jackson", "nicolas", "theo", "yweweler", "george"):
            _clip(tmp_path / f"{digit}_{speaker}_0.wav", 300 + 100 * digit)
    splits = load_keyword(tmp_path, SpeechConfig())
    assert splits.train.classes == ["0", "1", "2"]
    assert not set(splits.train.speakers) & set(splits.test.speakers)


def test_no_speaker_ids_warns_and_splits_at_random(tmp_path: Path) -> None:
    for word in ("a", "b"):
        for k in range(10):
            _clip(tmp_path / word / f"clip{k}.wav")
    splits = load_keyword(tmp_path, SpeechConfig())
    assert any("no speaker id" in w and "optimistic" in w for w in splits.info["warnings"])
    assert len(splits.train) + len(splits.val) + len(splits.test) == 20
    assert set(splits.test.speakers) == {""}  # words are not voices
    assert splits.info["speakers"] == {"train": 0, "val": 0, "test": 0}


def test_missing_and_empty_sources_raise(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        find_items(tmp_path / "nope")
    with pytest.raises(DataError, match="no audio clips"):
        find_items(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="not a file"):
        find_items(tmp_path / "notes.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _clip(tmp_path / "only" / "x_nohash_0.wav")
        with pytest.raises(DataError, match="at least two"):
            load_keyword(tmp_path, SpeechConfig())
