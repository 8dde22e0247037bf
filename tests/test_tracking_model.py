"""Every tracked run is an MLflow pyfunc model (models from code, no pickle): loaded with
``mlflow.pyfunc.load_model`` it predicts what ``mltasks predict`` does; ``--register`` puts it in
the Model Registry. The example plugin (no MLflow code of its own) against a local SQLite store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mltasks.finished import predict_run
from mltasks.testing.unpickling import forbid_unpickling
from mltasks.tracking import store as tracking_store
from mltasks.tracking.model_inputs import InputError, as_inputs, as_options

pytest.importorskip("mltasks_majority")

ROWS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "5.9,3.0,4.2,1.5"]


@pytest.fixture
def no_tracking_env(monkeypatch):
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", *tracking_store.FAIL_FAST):
        monkeypatch.delenv(var, raising=False)


# --- inputs as a client sends them ---------------------------------------------------------


def test_inputs_of_every_shape_become_what_predict_takes():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    assert as_inputs(["a", "b"], "text") == ["a", "b"]
    assert as_inputs("a", "text") == ["a"]
    assert as_inputs(np.array(["a", "b"]), "text") == ["a", "b"]
    assert as_inputs(np.array([["a"], ["b"]]), "text") == ["a", "b"]  # a (N, 1) column
    assert as_inputs(pd.DataFrame({"whatever": ["a", "b"]}), "text") == ["a", "b"]
    assert as_inputs(pd.DataFrame({"text": ["a"], "note": ["x"]}), "text") == ["a"]
    assert as_inputs({"inputs": ["a"]}, "file") == ["a"]
    assert as_inputs(np.array([7, 8]), "id") == ["7", "8"]  # ids are text, as on the command line
    rows = as_inputs(pd.DataFrame({"age": [30, 40], "sex": ["m", "f"]}), "row")
    assert rows == [{"age": 30, "sex": "m"}, {"age": 40, "sex": "f"}] and type(rows[0]["age"]) is int
    assert as_inputs({"age": 30}, "row") == [{"age": 30}]
    assert as_inputs(None, "none") is None and as_inputs([], "text") is None and as_inputs(["x"], "none") is None
    with pytest.raises(InputError, match="give one column"):
        as_inputs(pd.DataFrame({"a": [1], "b": [2]}), "text")
    with pytest.raises(InputError, match="is a row"):
        as_inputs({"age": 30}, "text")
    # params stay text: the task's checked predict converts them to its declared types
    assert as_options({"top_k": "3", "fast": "true", "name": "x", "unset": None}) == {"top_k": "3", "fast": "true",
                                                                                      "name": "x"}


# --- a tracked run is a model ----------------------------------------------------------------


def test_a_tracked_run_is_a_registered_pyfunc_model_that_predicts_like_mltasks_predict(
        tmp_path, monkeypatch, no_tracking_env):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    # --register alone turns tracking on (sqlite:///runs/mlflow.db beside the runs)
    result = CliRunner().invoke(__import__("mltasks.cli", fromlist=["cli"]).cli,
                                ["run", "majority", "--quick", "--out", "runs/iris", "--register", "iris-centroid"])
    assert result.exit_code == 0, result.output
    assert "View run" not in result.output and "Successfully registered" not in result.output  # MLflow's chatter
    run_dir = tmp_path / "runs" / "iris"
    record = json.loads((run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "logged" and record["model_uri"] == f"runs:/{record['run_id']}/model"
    assert record["registered_model"] == {"name": "iris-centroid", "version": "1"}
    uri = tracking_store.sqlite_uri(tmp_path / "runs")
    client = mlflow.MlflowClient(tracking_uri=uri)
    [version] = client.search_model_versions("name = 'iris-centroid'")
    assert str(version.version) == "1" and version.run_id == record["run_id"]
    experiment = client.get_experiment_by_name("majority")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # not the GenAI pages
    params = client.get_run(record["run_id"]).data.params
    assert params["label_col"] == '""' and "" not in params.values()  # unset values are spelled out

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    expected = predict_run(run_dir, ROWS)
    top2 = predict_run(run_dir, ROWS, top_k=2)
    with forbid_unpickling() as refused:  # loading through MLflow unpickles nothing either
        model = mlflow.pyfunc.load_model(record["model_uri"])
        registered = mlflow.pyfunc.load_model("models:/iris-centroid/1")
    assert refused == []
    assert model.predict(ROWS) == expected and registered.predict(ROWS) == expected
    assert model.predict(ROWS, params={"top_k": "2"}) == top2 != expected
    pd = pytest.importorskip("pandas")
    assert model.predict(pd.DataFrame({"inputs": ROWS})) == expected
    requirements = (tmp_path / "req").mkdir() or mlflow.artifacts.download_artifacts(
        f"{record['model_uri']}/requirements.txt", dst_path=str(tmp_path / "req"))
    from importlib import metadata

    lines = open(requirements).read().split()
    assert f"mltasks-majority=={metadata.version('mltasks-majority')}" in lines
    assert f"mltasks=={metadata.version('mltasks')}" in lines
    mlmodel = open(mlflow.artifacts.download_artifacts(f"{record['model_uri']}/MLmodel",
                                                       dst_path=str(tmp_path / "req"))).read()
    assert "model_code_path" in mlmodel and "python_model:" not in mlmodel  # code, not a cloudpickle file


def test_no_model_without_track_model_and_none_for_an_unfinished_run(tmp_path, monkeypatch, no_tracking_env):
    mlflow = pytest.importorskip("mlflow")
    import mltasks
    from mltasks.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="drop --track-model no"):
        mltasks.run("majority", quick=True, out=tmp_path / "runs" / "x", register="m", track_model=False)
    result = mltasks.run("majority", quick=True, out=tmp_path / "runs" / "plain", track="mlflow", track_model=False)
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    client = mlflow.MlflowClient(tracking_uri=tracking_store.sqlite_uri(tmp_path / "runs"))
    assert "model_uri" not in record and not client.search_logged_models([client.get_experiment_by_name(
        "majority").experiment_id])


def test_a_model_mlflow_cannot_take_is_one_warning_and_the_run_stays_logged(tmp_path, monkeypatch, no_tracking_env,
                                                                            capsys):
    mlflow = pytest.importorskip("mlflow")
    import mltasks
    from mltasks.tracking import log_model

    def refuse(**kwargs):
        raise RuntimeError("this registry takes no models")

    monkeypatch.setattr(log_model, "log_run_model", refuse)
    monkeypatch.chdir(tmp_path)
    result = mltasks.run("majority", quick=True, out=tmp_path / "runs" / "m", track="mlflow")
    record = json.loads((result.run_dir / "run.json").read_text())["tracking"]
    assert record["status"] == "logged" and record["model_error"] == "RuntimeError: this registry takes no models"
    client = mlflow.MlflowClient(tracking_uri=tracking_store.sqlite_uri(tmp_path / "runs"))
    assert client.get_run(record["run_id"]).info.status == "FINISHED"
    assert capsys.readouterr().err.count("Warning: Logging the run as an MLflow model failed") == 1


def test_a_run_saved_as_a_local_mlflow_model_loads_without_unpickling(tmp_path, no_tracking_env):
    mlflow = pytest.importorskip("mlflow")
    import mltasks
    from mltasks.tracking.log_model import save_run_model
    from mltasks.tracking.quiet import quiet

    run_dir = mltasks.run("majority", quick=True, out=tmp_path / "runs" / "local").run_dir
    with quiet():
        folder = save_run_model(run_dir, tmp_path / "model")
    assert (folder / "MLmodel").is_file() and not list(folder.rglob("*.pkl"))
    with forbid_unpickling() as refused:
        model = mlflow.pyfunc.load_model(str(folder))
        got = model.predict(ROWS, params={"top_k": "3"})
    assert refused == [] and got == predict_run(run_dir, ROWS, top_k=3)
