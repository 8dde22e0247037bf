"""A run directory from anyone is safe to open: a pickle planted in any model file is refused
(exit 2 naming the file) and never executed; a missing or truncated file is a clean exit 2 too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mltasks
import pytest
from click.testing import CliRunner
from mltasks import sklearn_io
from mltasks.cli import cli
from mltasks.config import quick_config
from mltasks.testing.payloads import WAYS, assert_refuses_payloads, model_files, pickle_payload

from mltasks_kaggle.saved_types import SAVED_TYPES
from mltasks_kaggle.task import KaggleTask


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One smoke run on the sample competition (a blend: the plugin's own classes are saved too)."""
    data = KaggleTask.sample_data(tmp_path_factory.mktemp("data"))
    run = mltasks.run("kaggle", data=data, quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                      overrides={"num_threads": 1, "importance_rows": 0, "models": "linear,hgb",
                                 "ensemble": 2}).run_dir
    return run, data


def test_no_pickle_or_joblib_file_is_written(smoke_run: tuple[Path, Path]) -> None:
    run, _ = smoke_run
    files = [f.name for f in model_files(run)]
    assert "pipeline.skops" in files and not [f for f in files if f.endswith((".joblib", ".pkl", ".pickle"))]
    types = sklearn_io.schema_types(run / "model" / "pipeline.skops")
    assert any(t.startswith("mltasks_kaggle.models.Blend") for t in types)  # the blend, saved as data
    assert types - sklearn_io.DATA_TYPES <= SAVED_TYPES


def test_broken_model_files_are_refused_without_running_code(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, data = smoke_run
    row = json.dumps({"pclass": "1st", "sex": "female", "age": 30, "sibsp": 0, "parch": 0})
    tried = assert_refuses_payloads(original, [row], tmp_path, ways=WAYS, name_folder=False)
    assert tried >= 3 * len(model_files(original))


def test_a_type_outside_the_plugins_list_is_refused(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    """A pipeline swapped for one holding a type the plugin never saves is refused, and one that
    would write a file when built (numpy.memmap from saved arguments) writes nothing."""
    import zipfile

    from sklearn.neighbors import KNeighborsClassifier

    original, _ = smoke_run
    run = tmp_path / "swapped"
    shutil.copytree(original, run)
    sklearn_io._skops_io().dump(KNeighborsClassifier(), run / "model" / "pipeline.skops")
    result = CliRunner().invoke(cli, ["evaluate", str(run)])
    assert result.exit_code == 2 and "pipeline.skops" in result.output and "KNeighborsClassifier" in result.output
    victim = tmp_path / "victim.txt"
    victim.write_text("kept")
    schema = {"__class__": "memmap", "__module__": "numpy", "__loader__": "ConstructorFromReduceNode",
              "__id__": 1, "protocol": 2, "_skops_version": "0.10",
              "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "__id__": 2,
                          "content": [{"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
                                       "content": json.dumps(str(victim)), "is_json": True, "__id__": 3}]}}
    with zipfile.ZipFile(run / "model" / "pipeline.skops", "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    for command in (["evaluate", str(run)], ["predict", str(run), '{"age": 3}']):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2 and "pipeline.skops" in result.output and "numpy.memmap" in result.output
    assert victim.read_text() == "kept"


def test_every_model_the_plugin_fits_is_in_its_allow_list(tmp_path: Path) -> None:
    """Each model, blend and column kind on each problem type saves (save checks the list)."""
    import numpy as np
    import pandas as pd

    from mltasks_kaggle.config import KaggleConfig
    from mltasks_kaggle.models import blend, pipeline

    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame({"num": rng.normal(size=n), "cat": rng.choice(["a", "b", None], size=n),
                          "when": pd.date_range("2020-01-01", periods=n).astype(str),
                          "txt": rng.choice(["red fox", "blue sky", "green tea"], size=n)})
    kinds = {"num": "numeric", "cat": "categorical", "when": "datetime", "txt": "text"}
    targets = {"binary": rng.choice(["y", "n"], size=n), "multiclass": rng.choice([0, 1, 2], size=n),
               "regression": rng.normal(size=n)}
    config = quick_config(KaggleConfig(text_columns="hash", num_threads=1))
    for problem, y in targets.items():
        fitted = [pipeline(name, problem, kinds, config).fit(frame, y) for name in ("linear", "rf", "hgb")]
        for i, model in enumerate([*fitted, blend(fitted, problem)]):
            path = sklearn_io.save(model, tmp_path / f"{problem}-{i}.skops", SAVED_TYPES)
            again = sklearn_io.load(path, SAVED_TYPES)
            assert np.allclose(np.asarray(again.predict(frame), dtype=float) if problem != "binary"
                               else (again.predict(frame) == "y"), np.asarray(model.predict(frame), dtype=float)
                               if problem != "binary" else (model.predict(frame) == "y"))


def test_an_older_runs_joblib_pipeline_is_never_loaded(smoke_run: tuple[Path, Path], tmp_path: Path) -> None:
    original, _ = smoke_run
    run = tmp_path / "old"
    shutil.copytree(original, run)
    for path in (run / "model").glob("pipeline.skops*"):
        path.unlink()
    marker = tmp_path / "marker-joblib"
    (run / "model" / "pipeline.joblib").write_bytes(pickle_payload(marker))
    result = CliRunner().invoke(cli, ["evaluate", str(run)])
    assert result.exit_code == 2 and "pipeline.joblib" in result.output and "never loaded" in result.output
    assert not marker.exists()
