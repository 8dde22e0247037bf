"""Model pieces: MixUp's blended clips and labels, and the CTC model's frame stride (kept with
a saved model, so runs saved before the option existed still load as they were trained)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from mltasks.config import quick_config
from mltasks.progress import null_progress

from mltasks_speech.augment import Mixup
from mltasks_speech.config import SpeechConfig
from mltasks_speech.ctc import CTCModel
from mltasks_speech.features import FeatureSpec
from mltasks_speech.task import SpeechTask


def test_mixup_blends_clips_and_labels_with_one_weight() -> None:
    torch.manual_seed(0)
    waves = torch.stack([torch.full((50,), float(k)) for k in range(6)])  # clip k is the constant k
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    mixed, soft = Mixup(3, alpha=0.4)((waves, targets))
    assert soft.shape == (6, 3) and torch.allclose(soft.sum(1), torch.ones(6))
    # one weight w for the batch: clip k becomes w * k + (1 - w) * its partner's constant, and its
    # label w on its own word plus (1 - w) on the partner's (w is the own-word share where they differ)
    w = float(soft[torch.arange(6), targets].min())
    assert 0 < w < 1
    partners = ((mixed[:, 0] - w * torch.arange(6)) / (1 - w)).tolist()
    assert sorted(round(p) for p in partners) == list(range(6)) and all(abs(p - round(p)) < 1e-4 for p in partners)
    for k, p in enumerate(round(p) for p in partners):
        expected = w * torch.nn.functional.one_hot(targets[k], 3) + (1 - w) * torch.nn.functional.one_hot(targets[p], 3)
        assert torch.allclose(soft[k], expected.float(), atol=1e-5)
    assert not torch.equal(mixed, waves)
    torch.manual_seed(0)
    again, _ = Mixup(3, alpha=0.4)((waves, targets))
    assert torch.equal(again, mixed)  # drawn from torch's seeded RNG


def test_mixup_blends_what_the_wave_augmentation_made() -> None:
    waves, targets = torch.randn(4, 30), torch.tensor([0, 1, 0, 1])
    shifted = (waves + 5.0, targets)
    torch.manual_seed(1)
    chained, soft = Mixup(2, alpha=0.4, before=lambda batch: (batch[0] + 5.0, batch[1]))((waves, targets))
    torch.manual_seed(1)
    direct, soft_direct = Mixup(2, alpha=0.4)(shifted)
    assert torch.equal(chained, direct) and torch.equal(soft, soft_direct)


def test_ctc_frame_stride_sets_the_output_frame_rate() -> None:
    spec = FeatureSpec(n_mels=16, f_max=4000.0, clip_samples=0, spec_augment=False)
    waves, lengths = torch.randn(2, 16000), torch.tensor([16000, 9000])
    frames = torch.div(lengths, spec.hop, rounding_mode="floor") + 1  # 101 and 91 feature frames
    for stride in (2, 3):
        model = CTCModel(spec, n_tokens=5, hidden=8, stride=stride).eval()
        log_probs, out_lengths = model(waves, lengths)
        assert out_lengths.tolist() == [-(-int(n) // stride) for n in frames]
        assert log_probs.shape[1] == out_lengths.max()


def test_a_saved_transcriber_keeps_its_frame_stride(sample_dir: Path, tmp_path: Path) -> None:
    task = SpeechTask(quick_config(SpeechConfig(mode="transcribe", frame_stride=3, num_threads=1)))
    splits = task.load_data(sample_dir / "manifest.csv")
    task.train(splits, null_progress())
    task.save(tmp_path / "model")
    meta_file = tmp_path / "model" / "speech_model.json"
    assert json.loads(meta_file.read_text())["frame_stride"] == 3
    loaded = SpeechTask.load(tmp_path / "model")
    assert loaded.model_.stride == 3
    assert loaded.transcribe_waves(splits.test.waves[:2], "greedy") == task.transcribe_waves(splits.test.waves[:2],
                                                                                              "greedy")
    meta = json.loads(meta_file.read_text())
    del meta["frame_stride"]  # as written before the option existed, when every model used 2
    meta_file.write_text(json.dumps(meta))
    assert SpeechTask.load(tmp_path / "model").model_.stride == 2


def test_ctc_bigru_on_padded_frames_matches_packed_sequences() -> None:
    """The fast padded BiGRU computes what the packed one does, gradients included."""
    torch.manual_seed(0)
    spec = FeatureSpec(n_mels=16, f_max=4000.0, clip_samples=0, spec_augment=False)
    model = CTCModel(spec, n_tokens=5, hidden=8).eval()
    x, lengths = torch.randn(3, 20, 8), torch.tensor([20, 13, 5])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(model.rnn(packed)[0], batch_first=True, total_length=20)
    expected.pow(2).sum().backward()
    grad = model.rnn.weight_hh_l1_reverse.grad.clone()
    model.zero_grad()
    got = model._bigru(x, lengths)
    got.pow(2).sum().backward()
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(model.rnn.weight_hh_l1_reverse.grad, grad, atol=1e-5)
    assert got[1, 13:].abs().max() == 0 and got[2, 5:].abs().max() == 0
    assert not any("_cells" in key for key in model.state_dict())  # nothing extra is saved
