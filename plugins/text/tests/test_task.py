"""The task end to end: models learn the sample data, save formats, predict, the CLI's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mltasks
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.config import quick_config
from mltasks.errors import ConfigError
from mltasks.progress import null_progress

from mltasks_text.config import TextConfig
from mltasks_text.task import TextTask


def _train(sample_csv: Path, quick: bool = False, **options) -> tuple[TextTask, object]:
    config = TextConfig(num_threads=1, **options)
    task = TextTask(quick_config(config) if quick else config)
    splits = task.load_data(sample_csv)
    return task.train(splits, null_progress()), splits


def test_tfidf_learns_sample_and_saves_skops(sample_csv: Path, tmp_path: Path) -> None:
    task, splits = _train(sample_csv, model="tfidf")
    evaluation = task.evaluate(splits.test)
    assert evaluation["accuracy"] == 1.0  # three topics with disjoint vocabularies
    assert evaluation.details["predicted"] == splits.test.labels
    assert evaluation.details["probabilities"].shape == (12, 3)
    task.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"task_config.json", "labels.json", "tfidf_pipeline.skops",
                                                     "tfidf_vocabulary.json"}
    records = TextTask.load(tmp_path).predict(["The chef baked a chocolate cake."], top_k=2)
    assert records[0]["label"] == "food" and len(records[0]["top"]) == 2
    assert records[0]["top"][0]["probability"] >= records[0]["top"][1]["probability"]


@pytest.mark.parametrize("model", ["cnn", "lstm"])
def test_neural_from_scratch_learns_sample(model: str, sample_csv: Path, tmp_path: Path) -> None:
    # 42 training texts make ~2 steps per epoch: the LSTM needs a larger step size to converge in 25 epochs
    task, splits = _train(sample_csv, model=model, epochs=25, patience=None, embed_dim=32, hidden_size=32,
                          lr=2e-3 if model == "cnn" else 1e-2)
    metrics = task.evaluate(splits.test)
    assert metrics["accuracy"] >= (0.9 if model == "cnn" else 0.75), metrics
    history = task.model_.history
    assert len(history) == 25 and history[-1]["train_loss"] < history[0]["train_loss"]
    task.save(tmp_path)
    assert (tmp_path / "weights.safetensors").is_file() and (tmp_path / "vocab.json").is_file()
    again = TextTask.load(tmp_path)
    assert again.predict(splits.test.texts) == task.predict(splits.test.texts)


def test_cnn_with_pretrained_tokenizer(sample_csv: Path, tmp_path: Path) -> None:
    task, _ = _train(sample_csv, model="cnn", tokenizer="pretrained", epochs=2, embed_dim=16, hidden_size=8,
                     quick=True)
    task.save(tmp_path)
    assert (tmp_path / "tokenizer" / "tokenizer.json").is_file() and not (tmp_path / "vocab.json").exists()
    assert len(task.model_.tokenizer) == 30522  # MiniLM's WordPiece vocabulary
    assert TextTask.load(tmp_path).predict(["a kernel panic"]) == task.predict(["a kernel panic"])


def test_frozen_transformer_trains_only_the_head(sample_csv: Path, tmp_path: Path) -> None:
    task, splits = _train(sample_csv, model="transformer", finetune="frozen", quick=True)
    net = task.model_.model
    before = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    from mltasks_text.pretrained import load_encoder, resolve_pretrained

    pristine = load_encoder(resolve_pretrained("")).state_dict()
    assert all((before[k] == pristine[k]).all() for k in pristine)  # encoder untouched
    assert task.evaluate(splits.test)["accuracy"] > 0.0
    task.save(tmp_path)
    assert (tmp_path / "encoder" / "model.safetensors").is_file() and (tmp_path / "head.safetensors").is_file()


def test_bad_pretrained_path_is_a_config_error(sample_csv: Path, tmp_path: Path) -> None:
    task = TextTask(TextConfig(model="transformer", pretrained=str(tmp_path), smoke=True))
    with pytest.raises(ConfigError, match="no config.json"):
        task.train(task.load_data(sample_csv), null_progress())


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="val_size"):
        TextConfig(val_size=1.5)
    with pytest.raises(ConfigError, match="epochs"):
        TextConfig(epochs=0)
    assert TextConfig(model="cnn").resolved("lr") == 2e-3 and TextConfig(model="transformer", lr=1e-4).resolved("lr")


@pytest.mark.parametrize("key, value", [("weight_decay", -1.0), ("weight_decay", float("nan")), ("lr", -1.0),
                                        ("lr", float("inf")), ("C", 0.0), ("C", float("nan")), ("epoch_budget", 0),
                                        ("max_length", 0), ("patience", 0), ("embed_dim", 0), ("hidden_size", 0),
                                        ("max_per_class", 0), ("dropout", 1.0), ("warmup_ratio", -0.1),
                                        ("warmup_ratio", 1.0), ("test_size", 0.0)])
def test_out_of_range_values_name_their_key(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        TextConfig(**{key: value})


def test_run_predict_and_report_through_cli(sample_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(cli, ["run", "text", "--data", str(sample_csv), "--set", "model=tfidf", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["metrics"]["accuracy"] == 1.0
    report = (out / "report.md").read_text()
    assert "Per-class precision and recall" in report and (out / "confusion_matrix.png").is_file()
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("Our goalkeeper won the final match.\nMy laptop crashed while running the kernel.\n")
    result = runner.invoke(cli, ["predict", str(out), "--file", str(inputs), "--json"])
    assert result.exit_code == 0, result.output
    assert [r["label"] for r in json.loads(result.output)] == ["sports", "computers"]


def test_bad_data_exits_2_naming_the_file(bad_input: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "text", "--data", str(bad_input), "--set", "model=tfidf",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output and bad_input.name in result.output and "Traceback" not in result.output


def test_cli_subprocess_info_and_quick_run(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "mltasks", "info", "text"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "max_length" in proc.stdout and "fortunes" in proc.stdout
    result = mltasks.run("text", overrides={"model": "tfidf", "num_threads": 1}, out=tmp_path / "r", quick=True)
    assert result.metrics["accuracy"] > 0.1  # 10 classes, chance is 0.1; smoke data is tiny


def test_transformer_epochs_follow_the_data_size() -> None:
    from mltasks_text.neural import training_budget

    cfg = TextConfig(model="transformer")
    assert training_budget(cfg, 800) == (3, None)  # small data: the default 3 epochs
    assert training_budget(cfg, 1230) == (3, None)  # the embedded fortunes
    assert training_budget(cfg, 4189) == (2, None)  # a 6,000-row CSV of short texts: 2 epochs
    assert training_budget(cfg, 20000) == (1, 563)  # larger data: one partial epoch of ~9,000 texts
    assert training_budget(TextConfig(model="transformer", epochs=5), 4189) is None  # the user's choice wins
    assert training_budget(TextConfig(model="cnn"), 4189) is None
    assert TextConfig().chosen_model() in ("blend", "tfidf") and quick_config(TextConfig()).chosen_model() == "tfidf"


def test_quick_presets_apply_only_where_nothing_was_set() -> None:
    from mltasks.runner import resolve_config

    quick = resolve_config(TextTask, quick=True)
    assert (quick.model, quick.max_per_class, quick.max_length, quick.patience) == ("tfidf", 12, 24, None)
    mine = resolve_config(TextTask, quick=True, overrides={"model": "cnn", "max_length": "40", "patience": "2"})
    assert (mine.model, mine.max_per_class, mine.max_length, mine.patience) == ("cnn", 12, 40, 2)
    plain = resolve_config(TextTask)
    assert (plain.model, plain.max_per_class, plain.max_length, plain.patience) == ("auto", None, 64, 4)
    assert TextTask(quick_config(TextConfig(model="cnn"))).effective_config().epochs == 5
    assert TextTask(quick_config(TextConfig(model="cnn", epochs=8))).effective_config().epochs == 8


def test_predict_options_are_typed(sample_csv: Path) -> None:
    task, _ = _train(sample_csv, model="tfidf")
    assert len(task.predict(["a kernel panic"], top_k="2")[0]["top"]) == 2  # text, as --set gives it
    with pytest.raises(ConfigError, match="predict option 'top_k': 'many' is not a valid int"):
        task.predict(["a kernel panic"], top_k="many")
    with pytest.raises(ConfigError, match="unknown predict option 'topk'; valid: top_k"):
        task.predict(["a kernel panic"], topk=2)
    with pytest.raises(ConfigError, match="top_k=0: must be at least 1"):
        task.predict(["a kernel panic"], top_k=0)
