"""The default keyword model, whisper-tiny: Whisper's own log-mel, thread-independent features,
a classifier fitted on them that hears unheard voices, and a saved model that holds only it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.config import quick_config
from mltasks.errors import MissingDependencyError
from mltasks.progress import null_progress
from safetensors import safe_open

from mltasks_speech.config import SpeechConfig
from mltasks_speech.default_data import write_sample
from mltasks_speech.features import FeatureSpec
from mltasks_speech.task import SpeechTask
from mltasks_speech.whisper_keyword import WhisperKeyword, whisper_log_mel


def _tone(freq: float, seconds: float = 1.0, rate: int = 16000) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return (0.5 * torch.sin(2 * torch.pi * freq * t)).unsqueeze(0)


def test_log_mel_has_whispers_shape_scale_and_bands() -> None:
    mel = whisper_log_mel(torch.cat([_tone(440.0), _tone(3000.0)]))
    assert mel.shape == (2, 80, 100)  # 10 ms frames, Whisper's last frame dropped
    # floored 8 decades below the clip's peak, then (x + 4) / 4: a span of at most 2
    span = mel.amax(dim=(1, 2)) - mel.amin(dim=(1, 2))
    assert torch.all(span <= 2.0 + 1e-6) and torch.all(span > 1.0)
    low, high = mel[0].mean(-1).argmax().item(), mel[1].mean(-1).argmax().item()
    assert 5 <= low <= 15 and 40 <= high <= 60  # 440 Hz and 3 kHz on Whisper's 80 Slaney bands up to 8 kHz
    assert whisper_log_mel(_tone(440.0, seconds=1.015)).shape[-1] == 102  # the encoder needs an even count


def test_log_mel_matches_faster_whisper_when_installed() -> None:
    if importlib.util.find_spec("faster_whisper") is None:
        pytest.skip("faster-whisper (mltasks-speech[whisper]) is not installed")
    from faster_whisper.feature_extractor import FeatureExtractor

    wave = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0)) * 0.1 + _tone(700.0)
    reference = FeatureExtractor(feature_size=80)(wave[0].numpy())[:, :-1]
    assert np.abs(whisper_log_mel(wave)[0].numpy() - reference).max() < 1e-3


def test_features_do_not_depend_on_the_thread_count(sample_dir: Path) -> None:
    splits = SpeechTask(quick_config(SpeechConfig())).load_data(sample_dir)
    waves = splits.train.waves[:8].float() / 32767.0
    spec = FeatureSpec(clip_samples=waves.shape[1])
    one, two = (WhisperKeyword(spec, 4, threads=n).features(waves) for n in (1, 2))
    assert one.shape == (8, 768) and torch.equal(one, two)
    assert not torch.allclose(one[0], one[1])  # different clips, different features


def test_whisper_keyword_hears_unheard_voices(tmp_path: Path) -> None:
    data = write_sample(tmp_path / "data", words=3, voices_per_engine=24, utterances=1)  # 28 voices x 3 words
    task = SpeechTask(SpeechConfig(val_fraction=0.25, test_fraction=0.25, num_threads=1))
    splits = task.load_data(data)
    assert not set(splits.train.speakers) & set(splits.test.speakers)
    task.train(splits, null_progress())
    assert task.evaluate(splits.test)["accuracy"] >= 0.9  # chance is 1/3; the CNN needs 25 epochs for 0.6
    assert [row["C"] for row in task.history_] == [0.01, 0.1, 1.0]
    assert all(0 <= row["val_accuracy"] <= 1 for row in task.history_)
    task.save(tmp_path / "model")
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as weights:
        assert sorted(weights.keys()) == ["head.bias", "head.weight", "mean", "scale"]  # the encoder is not copied
    loaded = SpeechTask.load(tmp_path / "model")
    waves = splits.test.waves.float() / 32767.0
    assert np.array_equal(loaded.label_probabilities(waves), task.label_probabilities(waves))


def test_a_folder_without_a_whisper_model_is_named(sample_dir: Path, tmp_path: Path) -> None:
    task = SpeechTask(quick_config(SpeechConfig(pretrained_path=str(tmp_path))))
    with pytest.raises(MissingDependencyError, match="no CTranslate2 model.bin"):
        task.train(task.load_data(sample_dir), null_progress())
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "speech", "--data", str(sample_dir), "--quick", "--out", str(out),
                                      "--set", f"pretrained_path={tmp_path}"])
    assert result.exit_code == 2 and f"Error: pretrained_path={tmp_path}: no CTranslate2 model.bin" in result.output
    assert "Traceback" not in result.output and not out.exists()  # nothing half-written


def test_the_cnn_is_still_one_option_away(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "speech", "--data", str(sample_dir), "--quick", "--out", str(out),
                                      "--set", "model=cnn", "--set", "num_threads=1"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "model" / "speech_model.json").read_text())
    assert meta["model"] == "cnn" and len(meta["history"]) == 2  # smoke: two epochs


@pytest.mark.slow
def test_default_keyword_run_meets_its_target_on_held_out_people(tmp_path: Path) -> None:
    task = SpeechTask(SpeechConfig(num_threads=1))
    splits = task.load_data(None)  # the embedded digits, split by person (seed 0: Kal and RMS held out)
    task.train(splits, null_progress())
    metrics = task.evaluate(splits.test)
    assert metrics["accuracy"] >= 0.97 and metrics["worst_voice_accuracy"] >= 0.9, metrics


def test_a_two_word_classifier_keeps_scikit_learns_probabilities() -> None:
    from sklearn.linear_model import LogisticRegression

    from mltasks_speech.whisper_keyword import _one_row_per_class

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), np.repeat([0, 1], 20)
    x[y == 1] += 1.0
    clf = LogisticRegression().fit(x, y)
    weight, bias = _one_row_per_class(clf.coef_), _one_row_per_class(clf.intercept_)
    assert weight.shape == (2, 5) and bias.shape == (2,)
    probs = torch.softmax(torch.as_tensor(x @ weight.T + bias), dim=1).numpy()
    np.testing.assert_allclose(probs, clf.predict_proba(x), atol=1e-10)
