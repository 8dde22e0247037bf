"""A run directory cannot make the rl task import a module (issue #32).

Each case plants a module name in a copy of the shared smoke run: ``evilmod.py`` sits in the
current folder and on ``sys.path`` (as beside a downloaded run) and creates a marker file when
imported. ``mltasks evaluate`` / ``predict`` exit 2 with one ``Error:`` line naming the run's
file and the module, ``load_run`` imports nothing, and the marker never appears, until the user
names the module on the command line.
"""

from __future__ import annotations

import json
import shutil
import sys

import mltasks
import pytest
from mltasks.errors import DataError

from mltasks_rl.config import RLConfig
from mltasks_rl.envs import make_env
from mltasks_rl.modules import check_module_name, import_user_module
from mltasks_rl.task import RLTask


@pytest.fixture
def planted(cartpole_run, tmp_path, monkeypatch):
    """A copy of the smoke run, ``evilmod.py`` and an ``evilpkg/__main__.py`` importable from
    the current folder, and the marker path their import would create."""
    run = tmp_path / "run"
    shutil.copytree(cartpole_run.run_dir, run)
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    (tmp_path / "evilmod.py").write_text(code)
    (tmp_path / "evilpkg").mkdir()
    (tmp_path / "evilpkg" / "__init__.py").write_text("")
    (tmp_path / "evilpkg" / "__main__.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("evilmod", "evilpkg", "evilpkg.__main__"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield run, marker
    for name in ("evilmod", "evilpkg", "evilpkg.__main__"):
        sys.modules.pop(name, None)


def edit_json(path, **values):
    data = json.loads(path.read_text())
    data.update(values)
    path.write_text(json.dumps(data))


def error_line(result):
    """The one ``Error:`` line of an exit-2 result (no traceback)."""
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def test_module_prefix_in_agent_json_is_refused_until_the_user_names_it(planted, mltasks_cli):
    run, marker = planted
    edit_json(run / "model" / "agent.json", env_id="evilmod:CartPole-v1")
    for args in (["evaluate", str(run)], ["predict", str(run), "--set", "episodes=1"]):
        line = error_line(mltasks_cli(*args))
        assert "agent.json" in line and "'evilmod'" in line and "--set env_module=evilmod" in line
    task = mltasks.load_run(run)  # loading alone imports nothing either
    assert task.env_id_ == "CartPole-v1" and task.model_ is None
    assert not marker.exists() and "evilmod" not in sys.modules
    result = mltasks_cli("predict", str(run), "--set", "episodes=1", "env_module=evilmod", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["return"] > 0
    assert marker.read_text() == "evilmod\n"  # imported once, because the user asked


def test_unregistered_env_names_the_module_the_run_used(planted, mltasks_cli):
    run, marker = planted
    edit_json(run / "model" / "agent.json", env_id="EvilGame-v0", env_modules=["evilmod"])
    for args in (["evaluate", str(run)], ["predict", str(run)]):
        line = error_line(mltasks_cli(*args))
        assert "agent.json" in line and "'evilmod'" in line and "--set env_module=evilmod" in line
    assert not marker.exists()


def test_unregistered_env_without_a_recorded_module_says_how_to_name_one(planted, mltasks_cli):
    run, marker = planted
    edit_json(run / "model" / "agent.json", env_id="EvilGame-v0", env_modules=[])
    line = error_line(mltasks_cli("predict", str(run)))
    assert "'EvilGame-v0' is not registered" in line and "--set env_module=PKG" in line
    # the user names a module that does not register it: imported as asked, then refused
    line = error_line(mltasks_cli("predict", str(run), "--set", "env_module=evilmod"))
    assert "env_module 'evilmod' does not register it" in line
    assert marker.read_text() == "evilmod\n"


def test_module_recorded_beside_a_registered_env_is_never_imported(planted, mltasks_cli):
    """agent.json and task_config.json may name modules: a registered id needs none of them."""
    run, marker = planted
    edit_json(run / "model" / "agent.json", env_modules=["evilmod", "evilpkg.__main__"])
    edit_json(run / "model" / "task_config.json", env_module="evilmod")
    assert mltasks.load_run(run).config.env_module == ""  # the record is not an instruction
    result = mltasks_cli("evaluate", str(run), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"]["mean_return"] > 0
    assert mltasks_cli("predict", str(run), "--set", "episodes=1").exit_code == 0
    assert not marker.exists()


def test_module_prefix_in_the_runs_data_entry_is_refused(planted, mltasks_cli):
    run, marker = planted
    line = error_line(mltasks_cli("evaluate", str(run), "--data", "evilmod:CartPole-v1"))
    assert "--data evilmod:CartPole-v1" in line and "--set env_module=evilmod" in line
    edit_json(run / "config.json", data="evilmod:CartPole-v1")
    line = error_line(mltasks_cli("evaluate", str(run)))
    assert f"{run / 'config.json'} (data evilmod:CartPole-v1)" in line and "'evilmod'" in line
    edit_json(run / "config.json", data=None)
    edit_json(run / "model" / "task_config.json", env="evilmod:CartPole-v1")
    line = error_line(mltasks_cli("evaluate", str(run)))
    assert "task_config.json (env evilmod:CartPole-v1)" in line and "--set env_module=evilmod" in line
    assert not marker.exists()
    result = mltasks_cli("evaluate", str(run), "--data", "evilmod:CartPole-v1", "--set", "env_module=evilmod")
    assert result.exit_code == 0, result.output
    assert marker.read_text() == "evilmod\n"


def test_main_modules_are_refused_from_the_run_and_from_the_user(planted, mltasks_cli):
    run, marker = planted
    edit_json(run / "model" / "agent.json", env_id="EvilGame-v0", env_modules=["evilpkg.__main__"])
    line = error_line(mltasks_cli("predict", str(run)))
    assert "agent.json" in line and "evilpkg.__main__" in line and "never imports" in line
    line = error_line(mltasks_cli("predict", str(run), "--set", "env_module=evilpkg.__main__"))
    assert "evilpkg.__main__" in line and "never imports" in line
    with pytest.raises(DataError, match="__main__"):  # at training time too
        RLTask(RLConfig(env_module="evilpkg.__main__")).load_data(None)
    assert not marker.exists() and "evilpkg" not in sys.modules


def test_an_installed_main_module_named_by_the_run_is_not_imported(planted, mltasks_cli):
    """The issue's case: flask (installed with MLflow) runs its CLI when ``flask.__main__`` is imported."""
    pytest.importorskip("flask")
    run, _ = planted
    edit_json(run / "model" / "agent.json", env_id="EvilGame-v0", env_modules=["flask.__main__"])
    line = error_line(mltasks_cli("evaluate", str(run)))
    assert "flask.__main__" in line
    assert "flask.__main__" not in sys.modules


@pytest.mark.parametrize("name", ["evilmod", "os.path", "x.__main__", "a b", "../evilmod", ""])
def test_module_names_are_checked(name):
    if name in ("evilmod", "os.path"):
        check_module_name(name)
        return
    with pytest.raises(DataError):
        check_module_name(name)


def test_make_never_sees_a_module_prefix_or_an_unregistered_id(planted):
    _, marker = planted
    for env_id in ("evilmod:CartPole-v1", "EvilGame-v0"):
        with pytest.raises(DataError, match="not a registered gymnasium environment id"):
            make_env(env_id)
    assert not marker.exists()


def test_training_imports_the_module_the_user_names(planted):
    _, marker = planted
    splits = RLTask().load_data("evilmod:CartPole-v1")
    assert splits.train.env_id == "CartPole-v1" and splits.train.modules == ("evilmod",)
    import_user_module("evilmod")  # already imported: once
    assert marker.read_text() == "evilmod\n"


def test_serve_clients_cannot_name_a_module(cartpole_run):
    """``env_module`` is a command-line option only: serve refuses it from a request (422)."""
    from mltasks.serve.failures import ClientError
    from mltasks.serve.predictor import Predictor

    assert RLTask.predict_options["env_module"].remote is False
    predictor = Predictor.load(cartpole_run.run_dir)
    assert "env_module" not in predictor.options and "episodes" in predictor.options
    with pytest.raises(ClientError) as caught:
        predictor.check_options({"env_module": "evilmod"})
    assert caught.value.status == 422 and "env_module" in caught.value.message
