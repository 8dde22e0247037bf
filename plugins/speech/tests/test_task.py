"""The task end to end on the sample data: training learns, the CLI runs and predicts,
transcription decodes, and the pretrained paths behave."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.config import quick_config
from mltasks.errors import ConfigError, DataError, MissingDependencyError
from mltasks.progress import null_progress

from mltasks_speech.config import SpeechConfig
from mltasks_speech.default_data import write_sample
from mltasks_speech.task import SpeechTask


def test_keyword_training_beats_chance_on_held_out_voices(tmp_path: Path) -> None:
    data = write_sample(tmp_path, words=3, voices_per_engine=24, utterances=1)  # 28 voices x 3 words
    task = SpeechTask(SpeechConfig(model="cnn", epochs=25, batch_size=8, lr=1e-2, val_fraction=0.25,
                                   test_fraction=0.25, num_threads=1))
    splits = task.load_data(data)
    assert splits.train.classes == ["one", "two", "zero"]
    assert not set(splits.train.speakers) & set(splits.test.speakers)
    task.train(splits, null_progress())
    metrics = task.evaluate(splits.test)
    assert metrics["accuracy"] >= 0.6  # chance is 1/3, on voices never heard in training
    assert len(task.history_) == 25 and task.history_[-1]["train_loss"] < task.history_[0]["train_loss"]


def test_cli_run_predict_evaluate(sample_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(cli, ["run", "speech", "--data", str(sample_dir), "--quick", "--out", str(out),
                                 "--set", "num_threads=1"])
    assert result.exit_code == 0, result.output
    for name in ("metrics.json", "report.md", "confusion_matrix.png", "model/model.safetensors",
                 "model/speech_model.json"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "model" / "speech_model.json").read_text())
    assert meta["classes"] == ["one", "three", "two", "zero"] and meta["features"]["sample_rate"] == 16000
    assert "Accuracy per voice" in (out / "report.md").read_text()
    clip = next((sample_dir / "two").glob("*.wav"))
    result = runner.invoke(cli, ["predict", str(out), str(clip), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output[result.output.index("["):])
    assert records[0]["label"] in meta["classes"] and 0 < records[0]["probability"] <= 1
    assert len(records[0]["top"]) == 3
    result = runner.invoke(cli, ["predict", str(out), str(sample_dir / "nope.wav")])
    assert result.exit_code == 2 and "nope.wav" in result.output


def test_epochs_default_by_mode() -> None:
    assert SpeechConfig().epochs_for_mode() == 30 and SpeechConfig(mode="transcribe").epochs_for_mode() == 28
    assert SpeechConfig(mode="transcribe", epochs=5).epochs_for_mode() == 5
    with pytest.raises(ConfigError, match="epochs"):
        SpeechConfig(epochs=-1)


def test_quick_presets_yield_to_what_you_set() -> None:
    from mltasks.config import resolve

    quick = resolve(SpeechConfig, {"smoke": "true"})
    assert (quick.epochs, quick.max_per_class) == (2, 12)  # two epochs on 12 clips per word
    mine = resolve(SpeechConfig, {"smoke": "true"}, {"epochs": "3", "max_per_class": "0"})
    assert (mine.epochs, mine.max_per_class) == (3, 0)
    plain = resolve(SpeechConfig, {})
    assert (plain.epochs, plain.max_per_class) == (0, 0)


@pytest.mark.parametrize("key, value", [("lr", -1.0), ("lr", 0.0), ("weight_decay", -0.1), ("patience", -1),
                                        ("dropout", 1.0), ("noise_prob", 1.5), ("time_shift_s", -0.1),
                                        ("max_per_class", -1), ("f_max", -1.0)])
def test_out_of_range_values_name_their_key(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=key):
        SpeechConfig(**{key: value})


def test_bad_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="mode=transcribe"):
        SpeechConfig(pretrained="pocketsphinx")
    with pytest.raises(ConfigError, match="snr_db"):
        SpeechConfig(snr_db=(20.0, 5.0))


def test_transcribe_reads_manifest_and_decodes(sample_dir: Path) -> None:
    task = SpeechTask(quick_config(SpeechConfig(mode="transcribe", num_threads=1)))
    splits = task.load_data(sample_dir / "manifest.csv")
    assert len(splits.train) > 0 and all(t for t in splits.train.texts)
    task.train(splits, null_progress())
    metrics = task.evaluate(splits.test)
    assert set(metrics) == {"wer", "cer", "sentence_accuracy"}
    # two smoke epochs on 14 utterances teach CTC little (20 epochs still gave WER 1.0): the
    # bound here is that a barely trained model adds no words; the learning bound is the slow test
    assert 0 <= metrics["wer"] <= 1.0 and 0 <= metrics["cer"] <= 1.0
    assert metrics.details["references"] == splits.test.texts and len(metrics.details["hypotheses"]) == len(splits.test)
    records = task.predict([splits.test.paths[0]], decoder="greedy")
    assert isinstance(records[0]["transcript"], str)
    with pytest.raises(ConfigError, match="decoder"):
        task.predict([splits.test.paths[0]], decoder="viterbi")


@pytest.mark.slow
def test_default_transcribe_run_meets_its_wer_target(tmp_path: Path) -> None:
    """The default mode=transcribe run (CTC, 28 epochs, about 10 min on 2 idle cores): WER <= 10 % on
    connected digits said by voices held out of training."""
    import mltasks

    result = mltasks.run("speech", overrides={"mode": "transcribe", "num_threads": 2}, out=tmp_path / "run")
    assert result.metrics["wer"] <= 0.10, result.metrics
    assert "Error rates by decoder" in (result.run_dir / "report.md").read_text()


def test_manifest_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "m.csv"
    bad.write_text("path,transcript\nmissing.wav,hello\n")
    with pytest.raises(DataError, match=r"m\.csv, line 2.*missing\.wav"):
        SpeechTask(SpeechConfig(mode="transcribe")).load_data(bad)
    bad.write_text("file,words\n")
    with pytest.raises(DataError, match="line 1"):
        SpeechTask(SpeechConfig(mode="transcribe")).load_data(bad)


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None, reason="pocketsphinx is not installed")
def test_pocketsphinx_with_digit_grammar(sample_dir: Path) -> None:
    words = "zero,one,two,three,four,five,six,seven,eight,nine,oh"
    task = SpeechTask(quick_config(SpeechConfig(mode="transcribe", pretrained="pocketsphinx", grammar=words)))
    splits = task.load_data(sample_dir)
    task.train(splits, null_progress())
    metrics = task.evaluate(splits.test)
    assert 0 <= metrics["wer"] < 1.0  # a real recogniser gets some synthetic digits right
    with pytest.raises(ConfigError, match="xyzzyq"):
        SpeechTask(SpeechConfig(mode="transcribe", pretrained="pocketsphinx", grammar="one,xyzzyq")).train(
            splits, null_progress())


def test_whisper_without_faster_whisper_says_what_to_install(sample_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    task = SpeechTask(quick_config(SpeechConfig(mode="transcribe", pretrained="whisper-tiny")))
    splits = task.load_data(sample_dir)
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'mltasks-speech\[whisper\]'"):
        task.train(splits, null_progress())
    monkeypatch.delitem(sys.modules, "faster_whisper")
    if importlib.util.find_spec("faster_whisper") is None:
        return
    empty = SpeechTask(SpeechConfig(mode="transcribe", pretrained="whisper-tiny", pretrained_path=str(tmp_path)))
    with pytest.raises(MissingDependencyError, match="no CTranslate2 model.bin"):
        empty.train(splits, null_progress())


def test_folders_without_speaker_ids_warn_on_the_console(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    data = tmp_path / "wav"
    t = np.arange(6000) / 16000
    for word, freq in (("low", 300.0), ("high", 1800.0), ("mid", 900.0)):
        (data / word).mkdir(parents=True)
        for k in range(8):
            wave = 0.3 * np.sin(2 * np.pi * freq * (1 + 0.01 * k) * t)
            sf.write(str(data / word / f"clip{k}.wav"), wave.astype(np.float32), 16000)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "speech", "--data", str(data), "--quick", "--out", str(out),
                                      "--set", "num_threads=1"])
    assert result.exit_code == 0, result.output
    assert "Warning: no speaker id" in result.output and "optimistic" in result.output
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert "worst_voice_accuracy" not in metrics and "accuracy" in metrics
    report = (out / "report.md").read_text()
    assert "no per-voice accuracy" in report
    assert "| low |" not in report and "| high |" not in report  # words are not listed as voices
