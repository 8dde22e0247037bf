"""The shared torch engine (mltasks.torch): a tiny model on synthetic tensors.

Loss goes down, early stopping stops and keeps the best weights, resume reaches the same
final weights as an uninterrupted run, checkpoints hold no pickle, and the runner resumes
an interrupted run end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

import torch.nn.functional as F  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402

import mltasks  # noqa: E402
from mltasks.errors import ConfigError, DataError  # noqa: E402
from mltasks.progress import Progress, ProgressEvent  # noqa: E402
from mltasks.torch import (  # noqa: E402
    FitConfig,
    fit,
    infer,
    load_weights,
    move_to,
    save_weights,
    select_device,
)


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blobs(n: int = 192, seed: int = 0) -> TensorDataset:
    """Two Gaussian blobs in 4 dimensions, labels 0/1."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 4, generator=g) + (y.float()[:, None] * 2 - 1) * 1.5
    return TensorDataset(x, y)


def make_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2))


def loss_fn(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    x, y = batch
    return F.cross_entropy(model(x), y)


def accuracy(model: torch.nn.Module, batch: Any) -> dict[str, Any]:
    x, y = batch
    return {"accuracy": (model(x).argmax(1) == y).sum(), "count": len(y)}


def quiet() -> Progress:
    return Progress(enabled=False, quiet=True)


CFG = FitConfig(epochs=4, batch_size=32, lr=0.05, device="cpu", seed=3)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_loss_decreases_and_history_is_complete() -> None:
    progress = quiet()
    result = fit(make_model(), blobs(), blobs(64, seed=1), loss_fn=loss_fn, config=CFG, progress=progress,
                 val_metrics_fn=accuracy)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.history[-1]["val_accuracy"] > 0.9
    assert set(result.history[0]) == {"epoch", "train_loss", "val_loss", "val_accuracy", "lr", "seconds"}
    assert result.steps == 4 * 6  # 192 examples / 32 per batch, 4 epochs
    assert result.history[-1]["lr"] < CFG.lr  # cosine decay
    # one report per epoch, with metrics only (the learning curve plots these)
    assert [h["epoch"] for h in progress.history] == [1.0, 2.0, 3.0, 4.0]
    assert set(progress.history[0]) == {"epoch", "train_loss", "val_loss", "val_accuracy"}


def test_same_seed_same_history_other_seed_differs() -> None:
    runs = [fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, progress=quiet(),
                config=FitConfig(**{**CFG.__dict__, "seed": s}))
            for s in (3, 3, 4)]
    strip = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in runs]
    assert strip[0] == strip[1]
    assert strip[0] != strip[2]


def test_early_stopping_stops_and_keeps_best_weights() -> None:
    # mode=max on a falling val_loss: epoch 1 stays the best, patience 2 stops after epoch 3
    cfg = FitConfig(epochs=20, batch_size=32, lr=0.05, device="cpu", scheduler="none", patience=2,
                    monitor="val_loss", mode="max")
    result = fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, progress=quiet(), config=cfg)
    assert result.stopped_early and len(result.history) == 3
    assert result.best_epoch == 1 and result.best_score == result.history[0]["val_loss"]
    one_epoch = fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, progress=quiet(),
                    config=FitConfig(**{**cfg.__dict__, "epochs": 1, "patience": None}))
    assert same(weights(result.model), weights(one_epoch.model))


def test_max_steps_overrides_epochs_and_train_loss_monitor_without_val() -> None:
    result = fit(make_model(), blobs(), None, loss_fn=loss_fn, progress=quiet(),
                 config=FitConfig(epochs=50, max_steps=8, batch_size=32, device="cpu"))
    assert result.steps == 8 and len(result.history) == 2  # 6 steps + 2 steps
    assert "val_loss" not in result.history[0] and math_finite(result.best_score)


def math_finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def test_resume_reaches_the_same_weights(tmp_path: Path) -> None:
    full = fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, config=CFG,
               progress=quiet(), checkpoint_dir=tmp_path / "a", val_metrics_fn=accuracy)

    interrupted = quiet()

    def stop_after_two(event: ProgressEvent) -> None:
        if event.kind == "metrics" and event.step == 2:
            raise KeyboardInterrupt

    interrupted.subscribe(stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, config=CFG, progress=interrupted,
            checkpoint_dir=tmp_path / "b", val_metrics_fn=accuracy)
    assert json.loads((tmp_path / "b" / "latest.json").read_text()) == {"epoch": 2}

    torch.manual_seed(123)  # the caller's RNG state must not matter: the checkpoint restores it
    resumed_progress = quiet()
    resumed = fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, config=CFG, progress=resumed_progress,
                  checkpoint_dir=tmp_path / "b", resume=True, val_metrics_fn=accuracy)
    assert resumed.resumed_from == 2 and resumed.steps == full.steps == 24
    assert same(weights(resumed.model), weights(full.model))
    drop = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in (full, resumed)]
    assert drop[0] == drop[1]
    assert [h["epoch"] for h in resumed_progress.history] == [1.0, 2.0, 3.0, 4.0]  # the whole curve


def test_checkpoints_are_safetensors_and_json_only(tmp_path: Path) -> None:
    cfg = FitConfig(epochs=4, batch_size=32, device="cpu", monitor="val_loss", mode="max", scheduler="onecycle",
                    optimizer="sgd")
    fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, config=cfg, progress=quiet(), checkpoint_dir=tmp_path)
    kept = sorted(p.name for p in tmp_path.glob("epoch-*"))
    assert kept == ["epoch-0001", "epoch-0004"]  # the best (epoch 1) and the latest
    files = {p.suffix for p in tmp_path.rglob("*") if p.is_file()}
    assert files == {".safetensors", ".json"}
    state = json.loads((tmp_path / "epoch-0004" / "state.json").read_text())
    assert state["epoch"] == 4 and state["best_epoch"] == 1 and state["scheduler"]["_anneal_func_type"] == "cos"


def test_sample_weights_param_groups_and_batch_transform() -> None:
    data = blobs()
    labels = data.tensors[1]
    only_ones = (labels == 1).double()  # sample class 1 only
    model = make_model()
    seen: list[torch.Tensor] = []

    def record(batch: Any) -> Any:
        seen.append(batch[1])
        return batch

    groups = [{"params": model[0].parameters(), "lr": 0.0}, {"params": model[3].parameters()}]
    first = weights(model)["0.weight"]
    fit(model, data, None, loss_fn=loss_fn, progress=quiet(), sample_weights=only_ones, param_groups=groups,
        batch_transform=record,
        config=FitConfig(epochs=1, batch_size=32, device="cpu", scheduler="none", weight_decay=0.0))
    assert torch.cat(seen).eq(1).all()
    assert torch.equal(model[0].weight, first)  # lr 0 for the first layer's group
    with pytest.raises(DataError, match="sample weights"):
        fit(make_model(), data, None, loss_fn=loss_fn, progress=quiet(), sample_weights=[1.0, 2.0], config=CFG)


def test_bad_config_and_monitor() -> None:
    with pytest.raises(ConfigError, match="optimizer"):
        FitConfig(optimizer="lion")
    with pytest.raises(ConfigError, match="val_f1"):
        fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, progress=quiet(),
            config=FitConfig(epochs=1, device="cpu", monitor="val_f1"))
    with pytest.raises(DataError, match="empty"):
        fit(make_model(), TensorDataset(torch.zeros(0, 4), torch.zeros(0)), None, loss_fn=loss_fn, progress=quiet(),
            config=CFG)


def test_infer_weights_devices_and_move_to(tmp_path: Path) -> None:
    model = make_model()
    model.train()
    data = blobs(70)
    out = infer(model, data, forward_fn=lambda m, b: m(b[0]), batch_size=32)
    assert out.shape == (70, 2) and model.training  # mode restored
    assert torch.allclose(out, model.eval()(data.tensors[0]), atol=1e-6)  # in order, dropout off
    path = save_weights(model, tmp_path / "w.safetensors")
    other = load_weights(make_model(seed=9), path)
    assert same(weights(other), weights(model))
    with pytest.raises(DataError, match="does not fit"):
        load_weights(torch.nn.Linear(4, 3), path)
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ConfigError, match="not a device"):
        select_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            select_device("cuda")
    moved = move_to({"x": [torch.ones(1), (torch.zeros(1), "text")]}, "cpu")
    assert moved["x"][1][1] == "text" and isinstance(moved["x"][1], tuple)


TINY_PLUGIN = """
from __future__ import annotations
from pathlib import Path
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset
from mltasks import Splits, Task, TaskSpec, hookimpl
from mltasks.torch import FitConfig, fit, infer, save_weights


def blobs(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    return TensorDataset(torch.randn(n, 4, generator=g) + (y.float()[:, None] * 2 - 1) * 1.5, y)


class TinyTask(Task):
    def load_data(self, source):
        return Splits(train=blobs(192, 0), val=blobs(64, 1), test=blobs(64, 2))

    def train(self, splits, progress, context=None):
        torch.manual_seed(self.config.seed)
        model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                    torch.nn.Linear(16, 2))
        self.model_ = fit(model, splits.train, splits.val, loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]),
                          config=FitConfig(epochs=4, batch_size=32, lr=0.05, device="cpu", seed=self.config.seed),
                          progress=progress, checkpoint_dir=context.checkpoint_dir,
                          resume=context.resume).model
        return self

    def evaluate(self, dataset):
        logits = infer(self.model_, dataset, forward_fn=lambda m, b: m(b[0]))
        return {"accuracy": float((logits.argmax(1) == dataset.tensors[1]).float().mean()),
                "logit_sum": float(logits.sum())}

    def save(self, directory):
        save_weights(self.model_, Path(directory) / "model.safetensors")
        self.save_config(directory)


@hookimpl
def register_tasks(register):
    register(TaskSpec(name="tinytorch", summary="blobs by the torch engine", task="tinytorch_plugin:TinyTask",
                      config="mltasks:TaskConfig", data_formats=["none"], requires=["torch"]))
"""


def test_runner_resumes_an_interrupted_run(tmp_path: Path, make_distribution: Any) -> None:
    make_distribution("mltasks-tinytorch", "tinytorch_plugin", TINY_PLUGIN, entry="tinytorch")
    whole = mltasks.run("tinytorch", root=tmp_path / "a", progress=quiet())
    assert whole.metrics["accuracy"] > 0.9
    assert not (whole.run_dir / "checkpoints").exists()  # the runner drops them when complete
    info = json.loads((whole.run_dir / "run.json").read_text())  # how the engine spread the run
    assert info["world_size"] == 1
    assert info["distributed"] == {"backend": None, "batch_size": 32, "per_process_batch": 32, "steps": 4 * 6}

    progress = quiet()

    def stop(event: ProgressEvent) -> None:
        if event.kind == "metrics" and event.step == 2:
            raise KeyboardInterrupt

    progress.subscribe(stop)
    with pytest.raises(KeyboardInterrupt):
        mltasks.run("tinytorch", root=tmp_path / "b", progress=progress)
    (partial,) = (tmp_path / "b").glob(".*.partial")
    assert json.loads((partial / "checkpoints" / "latest.json").read_text()) == {"epoch": 2}
    resumed = mltasks.run("tinytorch", resume=str(partial), root=tmp_path / "b", progress=quiet())
    assert resumed.metrics == whole.metrics
    assert [h["epoch"] for h in resumed.history] == [1.0, 2.0, 3.0, 4.0]
    assert not partial.exists() and (resumed.run_dir / "metrics.json").is_file()


def test_batch_size_is_the_global_batch_shared_by_the_processes() -> None:
    from mltasks.torch import per_process_batch

    assert per_process_batch(64, 2) == 32 and per_process_batch(64, 1) == 64 and per_process_batch(8, 8) == 1
    assert per_process_batch(64) == 64  # the world torchrun describes: one process here
    with pytest.raises(ConfigError, match=r"batch_size=30 is the global batch and must be divisible by the 4 "
                                          r"training processes .*use 28 or 32"):
        per_process_batch(30, 4)
    with pytest.raises(ConfigError, match=r"batch_size=1 .* use 2$"):
        per_process_batch(1, 2)


def test_fit_records_how_it_trained_for_the_run_record() -> None:
    import time

    from mltasks.torch import distributed

    before = time.time()
    result = fit(make_model(), blobs(), blobs(64, 1), loss_fn=loss_fn, config=CFG, progress=quiet())
    assert result.steps == 4 * 6  # 192 examples in batches of 32, 4 epochs
    assert distributed.training_record(before) == {"world_size": 1, "backend": None, "batch_size": 32,
                                                   "per_process_batch": 32, "steps": 24}
    assert distributed.training_record(time.time() + 60) == {}  # none started since: a later run sees none
    batches = [(x[None], y[None]) for x, y in blobs(48)]  # a dataset of ready-made batches of one
    fit(make_model(), batches, None, loss_fn=loss_fn, progress=quiet(),
        config=FitConfig(epochs=1, batch_size=1, prebatched=True, device="cpu"), collate_fn=lambda items: items[0])
    assert distributed.training_record(before)["steps"] == 48


def test_core_start_up_does_not_import_torch() -> None:
    code = "import sys, mltasks, mltasks.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_weights_with_non_contiguous_buffers_save_and_load(tmp_path):
    from mltasks.torch import load_weights, save_weights

    class WithView(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)
            self.register_buffer("window", torch.arange(8.0)[::2])  # a strided view, as torchaudio's windows

    model = WithView()
    assert not model.window.is_contiguous()
    path = save_weights(model, tmp_path / "w.safetensors")
    other = WithView()
    torch.nn.init.zeros_(other.linear.weight)
    load_weights(other, path)
    assert torch.equal(other.linear.weight, model.linear.weight) and torch.equal(other.window, model.window)


def test_tied_weights_are_saved_once_and_stay_tied(tmp_path):
    from mltasks.torch import load_weights, save_weights

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 4)
            self.out = torch.nn.Linear(4, 10, bias=False)
            self.out.weight = self.embed.weight

    model = Tied()
    path = save_weights(model, tmp_path / "t.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        assert sorted(fh.keys()) == ["embed.weight"]
    other = Tied()
    load_weights(other, path)
    assert torch.equal(other.out.weight, model.embed.weight) and other.out.weight is other.embed.weight


@pytest.mark.parametrize("content", [b"\x80\x03cos\nsystem\n.", b"", b"{}"])
def test_unreadable_weights_file_is_a_data_error_naming_it(tmp_path, content):
    from mltasks.torch import load_weights

    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(DataError, match="model.safetensors"):
        load_weights(make_model(), path)
