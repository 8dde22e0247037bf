"""MLflow tracking: real runs of the example plugin logged to a SQLite store, read back
through ``MlflowClient``; failures (no mlflow, a dead server) are one warning, never a failed run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from importlib import metadata

import pytest

import mltasks
from mltasks.progress import Progress
from mltasks.runner import RunRequest, execute
from mltasks.tracking import NullTracker, run_tracker, start_run_tracking, start_study_tracking
from mltasks.tracking import store as tracking_store

pytest.importorskip("mltasks_majority")
from mltasks_majority.task import MajorityTask  # noqa: E402


class CurvyMajority(MajorityTask):
    """Majority with three reported "epochs" (a training history to log with steps)."""

    name = "curvy"

    def train(self, splits, progress, context=None):
        for epoch in range(1, 4):
            progress.report(epoch, train_loss=1.0 / epoch, val_accuracy=0.5 + 0.1 * epoch)
        return super().train(splits, progress)


def needs_mlflow():
    return pytest.importorskip("mlflow", reason="MLflow tracking tests need mlflow (pip install 'mltasks[mlflow]')")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_tracking_env(monkeypatch):
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", *tracking_store.FAIL_FAST):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    """A runs folder whose SQLite store exists already (creating one costs seconds): shared by the tests."""
    mlflow = needs_mlflow()
    root = tmp_path_factory.mktemp("tracking") / "runs"
    root.mkdir()
    mlflow.MlflowClient(tracking_uri=tracking_store.sqlite_uri(root)).search_experiments()
    return root


def warnings_of(progress: Progress) -> list[str]:
    seen: list[str] = []
    progress.subscribe(lambda e: seen.append(e.message) if e.kind == "warning" else None)
    return seen


# --- without MLflow -------------------------------------------------------------------


def test_tracking_off_is_a_null_tracker(no_tracking_env):
    progress = Progress(quiet=True)
    tracker = start_run_tracking(None, task="majority", progress=progress)
    assert isinstance(tracker, NullTracker)
    assert tracker.finish(run_dir=".", status="complete") == {"backend": None, "status": "off"}
    assert start_study_tracking(None, task="majority", study_name="s").parent_run_id is None


def test_unknown_tracker_warns_once(no_tracking_env):
    progress = Progress(quiet=True)
    seen = warnings_of(progress)
    info = start_run_tracking("wandb", task="majority", progress=progress).finish(run_dir=".", status="complete")
    assert info["status"] == "failed" and "unknown tracker 'wandb'" in info["error"]
    assert len(seen) == 1


def test_missing_mlflow_is_one_warning_naming_the_extra(no_tracking_env, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    progress = Progress(quiet=True)
    seen = warnings_of(progress)
    tracker = start_run_tracking("mlflow", task="majority", progress=progress, run_dir=tmp_path / "run")
    progress.report(1, loss=0.5)
    info = tracker.finish(run_dir=tmp_path, status="complete", metrics={"accuracy": 1.0})
    assert seen == ["MLflow tracking is off: mlflow is not installed (pip install 'mltasks[mlflow]'); the run goes on"]
    assert info["status"] == "failed" and "pip install 'mltasks[mlflow]'" in info["error"]


def test_a_run_without_tracking_imports_no_mlflow(tmp_path, no_tracking_env):
    code = ("import sys, mltasks\n"
            f"mltasks.run('majority', quick=True, out={str(tmp_path / 'run')!r})\n"
            "import mltasks.tracking\n"
            "print('MLFLOW', 'mlflow' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "MLFLOW False"
    assert "tracking" not in json.loads((tmp_path / "run" / "run.json").read_text())


# --- a SQLite store -------------------------------------------------------------------


def test_run_logged_to_the_default_sqlite_store(store_root, tmp_path, no_tracking_env, monkeypatch):
    mlflow = needs_mlflow()
    monkeypatch.chdir(tmp_path)  # nothing may land in the current directory (./mlruns)
    root = store_root
    result = mltasks.run(CurvyMajority, quick=True, seed=3, out=root / "curvy-a", track="mlflow",
                         overrides={"method": "centroid"})
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    uri = "sqlite:///" + str((root / "mlflow.db").resolve())
    assert record["status"] == "logged" and record["uri"] == uri and record["experiment"] == "curvy"
    assert not (tmp_path / "mlruns").exists() and (root / "mlflow.db").is_file()

    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "curvy-a"
    assert client.get_experiment(run.info.experiment_id).name == "curvy"
    # params: the resolved config
    assert run.data.params["method"] == "centroid" and run.data.params["seed"] == "3"
    assert run.data.params["smoke"] == "True" and run.data.params["test_size"] == "0.3"
    # metrics: every reported epoch with its step, and the final test metrics
    history = json.loads((result.run_dir / "history.json").read_text())
    logged = client.get_metric_history(run.info.run_id, "train_loss")
    assert [(m.step, m.value) for m in logged] == [(int(h["epoch"]), pytest.approx(h["train_loss"])) for h in history]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")] == [1, 2, 3]
    final = json.loads((result.run_dir / "metrics.json").read_text())["metrics"]
    assert run.data.metrics["accuracy"] == pytest.approx(final["accuracy"])
    assert run.data.metrics["balanced_accuracy"] == pytest.approx(final["balanced_accuracy"])
    # tags
    tags = run.data.tags
    assert tags["mltasks.task"] == "curvy" and tags["mltasks.status"] == "complete"
    assert tags["mltasks.data_source"] == "default" and tags["mltasks.data_sha256"] == "embedded-default"
    assert tags["mltasks.run_dir"] == str(result.run_dir.resolve()) and tags["mltasks.split"] == "test"
    assert tags["mltasks.primary_metric"] == "accuracy"
    # artifacts: the report with its PNGs and the JSON files; the run folder is the logged model
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.md", "config.json", "run.json", "metrics.json", "history.json", "confusion_matrix.png"} <= names
    [model] = client.search_logged_models([run.info.experiment_id], filter_string="name = 'model'")
    assert model.source_run_id == run.info.run_id and record["model_uri"] == f"runs:/{run.info.run_id}/model"
    assert record["model_id"] == model.model_id and model.tags["mltasks.task"] == "curvy"
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="run.json",
                                                tracking_uri=uri, dst_path=str(tmp_path / "dl"))
    assert json.loads(open(local).read())["status"] == "complete"
    assert (root / "mlartifacts" / "curvy").is_dir()  # artifacts beside the store, not in ./mlruns

    # the same store through MLFLOW_TRACKING_URI, another experiment, and no model artifact
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    second = mltasks.run("majority", quick=True, out=tmp_path / "elsewhere" / "m", experiment="iris-baselines",
                         track_model=False)
    record = json.loads((second.run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "logged" and record["uri"] == uri and record["experiment"] == "iris-baselines"
    run = client.get_run(record["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "iris-baselines"
    assert (root / "mlartifacts" / "iris-baselines").is_dir()  # a sqlite URI: artifacts beside the .db too
    assert not client.search_logged_models([run.info.experiment_id]) and "model_uri" not in record
    assert run.data.tags["mltasks.plugin"] == "mltasks-majority"
    assert run.data.tags["mltasks.plugin_version"] == metadata.version("mltasks-majority")


class FlakyCurvy(CurvyMajority):
    """Checkpoints, then fails while ``fail`` is set (an interrupted run to resume)."""

    name = "flaky"
    fail = True

    def train(self, splits, progress, context=None):
        progress.report(1, train_loss=1.0)
        if type(self).fail:
            context.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            (context.checkpoint_dir / "state.json").write_text("{}")
            raise RuntimeError("power cut")
        progress.report(2, train_loss=0.5)
        return MajorityTask.train(self, splits, progress)


def test_a_resumed_run_continues_its_mlflow_run(store_root, tmp_path, no_tracking_env, monkeypatch):
    mlflow = needs_mlflow()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="power cut"):
        mltasks.run(FlakyCurvy, quick=True, out=store_root / "flaky-a", track="mlflow")
    partial = store_root / ".flaky-a.partial"
    first = json.loads((partial / "run.json").read_text())["tracking"]
    client = mlflow.MlflowClient(tracking_uri=tracking_store.sqlite_uri(store_root))
    assert client.get_run(first["run_id"]).info.status == "FAILED"

    monkeypatch.setattr(FlakyCurvy, "fail", False)
    result = mltasks.run(FlakyCurvy, resume=str(partial), track="mlflow")
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "logged" and record["run_id"] == first["run_id"]  # one MLflow run, continued
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["mltasks.resumed"] == "true"
    assert run.data.tags["mltasks.status"] == "complete" and "accuracy" in run.data.metrics
    # the resumed run reports epoch 1 again (its history is whole): MLflow holds each step once
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2]
    experiment = client.get_experiment_by_name("flaky")
    assert [r.info.run_name for r in client.search_runs([experiment.experiment_id])] == ["flaky-a"]


class PrunedCurvy(CurvyMajority):
    """A tuning trial the pruner stops after its first epoch."""

    name = "prunedcurvy"

    def train(self, splits, progress, context=None):
        import optuna

        progress.report(1, train_loss=1.0)
        raise optuna.TrialPruned("pruned at epoch 1")


def test_a_pruned_trial_ends_killed_not_failed(store_root, tmp_path, no_tracking_env, monkeypatch):
    mlflow = needs_mlflow()
    pytest.importorskip("optuna")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="pruned at epoch 1"):
        mltasks.run(PrunedCurvy, quick=True, out=store_root / "pruned-a", track="mlflow")
    client = mlflow.MlflowClient(tracking_uri=tracking_store.sqlite_uri(store_root))
    experiment = client.get_experiment_by_name("prunedcurvy")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "KILLED" and run.data.tags["mltasks.status"] == "pruned"


def test_study_parent_with_trial_children(store_root, tmp_path, no_tracking_env, monkeypatch):
    mlflow = needs_mlflow()
    monkeypatch.chdir(tmp_path)
    study_dir = store_root / "tune-majority-x"
    study = start_study_tracking("mlflow", task="majority", study_name="mltasks-majority",
                                 settings={"study_dir": study_dir, "metric": "accuracy",
                                           "storage": "postgresql://me:secret@db/optuna"})
    assert study.parent_run_id
    children = []
    for number in range(2):
        if number == 1:  # a worker process knows only the parent id: it finds the store above its folder
            tracking_store._PARENTS.clear()
        out = study_dir / "trials" / f"trial-{number:04d}"
        result = execute(RunRequest("majority", quick=True, seed=number, out=out),
                         tracker=run_tracker("mlflow", parent_run_id=study.parent_run_id))
        children.append(json.loads((result.run_dir / "run.json").read_text())["tracking"])
    (study_dir / "study.json").write_text("{}")
    info = study.finish({"best": {"number": 0, "value": 0.9, "test_metrics": {"accuracy": 0.88}},
                         "trials": {"COMPLETE": 2}}, study_dir)
    assert info["status"] == "logged"
    client = mlflow.MlflowClient(tracking_uri=info["uri"])
    parent = client.get_run(study.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.metrics["best_value"] == 0.9
    assert parent.data.metrics["best_test_accuracy"] == 0.88 and parent.data.tags["mltasks.best_trial"] == "0"
    assert parent.data.params["storage"] == "postgresql://me@db/optuna"  # no password in MLflow
    assert "study.json" in {a.path for a in client.list_artifacts(study.parent_run_id)}
    for child in children:
        assert child["status"] == "logged" and child["uri"] == info["uri"]
        run = client.get_run(child["run_id"])
        assert run.data.tags["mlflow.parentRunId"] == study.parent_run_id
        assert run.info.experiment_id == parent.info.experiment_id


TOY_SPACE = '[study]\nmetric = "mse"\ndirection = "minimize"\n\n[noise]\ntype = "float"\nlow = 0.0\nhigh = 1.0\n'


def test_tune_logs_a_parent_run_and_a_child_per_trial(toy, store_root, tmp_path, no_tracking_env):
    mlflow = needs_mlflow()
    pytest.importorskip("optuna")
    from mltasks.tune import tune

    space = tmp_path / "space.toml"
    space.write_text(TOY_SPACE)
    summary = tune("toy", space=space, trials=2, quick=True, track="mlflow", out=store_root / "tune-toy")
    client = mlflow.MlflowClient(tracking_uri=tracking_store.sqlite_uri(store_root))
    experiment = client.get_experiment_by_name("toy")
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("mltasks.kind") == "study"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and parent.data.params["metric"] == "mse"
    assert parent.data.metrics["best_value"] == pytest.approx(summary["best"]["value"])
    assert sorted(r.info.run_name for r in children) == ["trial-0000", "trial-0001"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")] == [1, 2, 3]
        assert child.data.params["split_seed"] == "0"
        # each trial says which parameters its trial of the space was asked for
        assert child.data.tags["mltasks.active_params"] == "noise"
        assert child.data.tags["mltasks.trial"] == child.info.run_name[-1]
        assert child.data.tags["mltasks.study"] == summary["study_name"]


def test_dead_server_is_one_warning_and_the_run_goes_on(tmp_path, no_tracking_env, monkeypatch, capsys):
    needs_mlflow()
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # nobody listens there
    started = time.monotonic()
    result = mltasks.run(CurvyMajority, quick=True, out=tmp_path / "run")
    assert time.monotonic() - started < 60  # fail fast: MLflow's defaults retry for minutes
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "failed" and record["run_id"] is None
    assert record["error"] == f"cannot reach {url} (connection refused)"
    err = capsys.readouterr().err
    assert err.count("Warning: MLflow tracking failed") == 1
    assert (result.run_dir / "metrics.json").is_file()
    assert tracking_store.FAIL_FAST.keys().isdisjoint(os.environ)  # the fail-fast settings were put back


def test_a_failing_tracker_never_breaks_training(store_root, tmp_path, no_tracking_env, monkeypatch):
    from mltasks.tracking.mlflow_run import MlflowRunTracker

    progress = Progress(quiet=True)
    seen = warnings_of(progress)
    tracker = start_run_tracking("mlflow", task="majority", progress=progress, run_dir=store_root / "r",
                                 config={"seed": 0, "nested": {"lr": 0.1, "layers": [2, 3]}})
    assert isinstance(tracker, MlflowRunTracker) and tracker.run_id
    params = tracker.client.get_run(tracker.run_id).data.params
    assert params["nested.lr"] == "0.1" and params["nested.layers"] == "[2, 3]"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tracker.client, "log_batch", boom)
    for epoch in range(1, 4):
        progress.report(epoch, loss=1.0 / epoch)  # must not raise
    info = tracker.finish(run_dir=tmp_path, status="complete", metrics={"accuracy": 1.0})
    assert seen == ["MLflow tracking failed, the run goes on without it: OSError: disk full"]
    assert info["status"] == "failed" and info["error"] == "OSError: disk full"
    assert tracker.client.get_run(tracker.run_id).info.status == "FAILED"


def test_many_steps_are_sent_in_few_requests(store_root, no_tracking_env, monkeypatch, tmp_path):
    progress = Progress(quiet=True)
    tracker = start_run_tracking("mlflow", task="steps", progress=progress, run_dir=store_root / "steps")
    calls = []
    real = tracker.client.log_batch
    monkeypatch.setattr(tracker.client, "log_batch", lambda *a, **k: calls.append(len(k.get("metrics", []))) or
                        real(*a, **k))
    for step in range(1, 1201):
        progress.report(step, unit="timestep", reward=float(step))
    info = tracker.finish(run_dir=tmp_path, status="complete", metrics={"mean_reward": 3.0})
    assert info["status"] == "logged"
    history = tracker.client.get_metric_history(tracker.run_id, "reward")
    assert [m.step for m in history] == list(range(1, 1201))
    assert len(calls) <= 5 and sum(calls) == 1201


def test_params_are_resolved_and_each_step_is_logged_once(store_root, tmp_path, no_tracking_env):
    mlflow = needs_mlflow()
    from dataclasses import dataclass

    from mltasks import TaskConfig

    @dataclass(frozen=True)
    class Resolving(TaskConfig):
        batch_size: int | None = None  # None: the model's default (text's, recommender's configs)
        label: str = ""
        note: str | None = None

        def resolved(self, name):
            if name == "batch_size" and self.batch_size is None:
                return 32
            return getattr(self, name)

    progress = Progress(quiet=True)
    tracker = start_run_tracking("mlflow", task="hygiene", config=Resolving(seed=4), progress=progress,
                                 run_dir=store_root / "hygiene-a")
    progress.report(1, cv_score=0.80)
    progress.report(2, cv_score=0.81)
    record = tracker.finish(run_dir=tmp_path, status="complete", metrics={"cv_score": 0.81, "accuracy": 0.7})
    client = mlflow.MlflowClient(tracking_uri=tracking_store.sqlite_uri(store_root))
    run = client.get_run(record["run_id"])
    assert run.data.params["batch_size"] == "32" and run.data.params["split_seed"] == "4"  # as the run used them
    assert run.data.params["label"] == '""' and run.data.params["note"] == "None"  # no blank cells
    # the final cv_score is the last step's: logged once; a final-only metric lands on the last step
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "cv_score")] == [(1, 0.80),
                                                                                                 (2, 0.81)]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "accuracy")] == [2]
