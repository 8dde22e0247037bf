"""How the command line fails and starts: one ``Error:`` line for usage errors, a quiet end
on a closed pipe, Ctrl-C, and commands imported only when run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from mltasks.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "toy", "--seed", "abc"], "Error: Invalid value for '--seed': 'abc' is not a valid integer."),
        (["run"], "Error: Missing argument 'TASK'."),
        (["run", "toy", "--bogus"], "Error: No such option '--bogus'."),
        (["--bogus"], "Error: No such option '--bogus'."),
        (["nosuch"], "Error: No such command 'nosuch'."),
        (["evaluate"], "Error: Missing argument 'RUN_DIR'."),
        (["predict"], "Error: Missing argument 'RUN_DIR'."),
        (["info"], "Error: Missing argument 'TASK'."),
        (["list", "extra"], "Error: Got unexpected extra argument (extra)"),
        (["run", "toy", "--track", "wandb"], "Error: Invalid value for '--track': 'wandb' is not 'mlflow'."),
        (["run", "toy", "--track-model", "maybe"], "Error: Invalid value for '--track-model': 'maybe' is not one of"),
        (["run", "toy", "--config"], "Error: Option '--config' requires an argument."),
        (["evaluate", "r", "--json", "--data"], "Error: Option '--data' requires an argument."),
        (["runs", "--bogus"], "Error: No such option '--bogus'."),
        (["compare", "--json"], "Error: Missing argument"),
        (["serve", "r", "--port", "abc"], "Error: Invalid value for '--port': 'abc' is not a valid integer"),
        (["tune", "toy", "--trials", "x"], "Error: Invalid value for '--trials': 'x' is not a valid integer."),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(toy, args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert "Usage:" not in result.output and "Try " not in result.output


def test_help_still_shows_usage():
    for args in (["--help"], ["run", "--help"], ["predict", "-h"]):
        result = invoke(*args)
        assert result.exit_code == 0 and result.output.startswith("Usage: "), result.output
    result = invoke()  # no command at all: the help, as before
    assert "Usage: " in result.output and "Commands:" in result.output


def test_usage_error_in_a_subprocess_is_one_line_on_stderr():
    proc = subprocess.run([sys.executable, "-m", "mltasks", "run", "x", "--seed", "abc"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "Error: Invalid value for '--seed': 'abc' is not a valid integer.\n"


def _closed_pipe(args):
    """Run ``mltasks ARGS`` with stdout to a pipe whose reader has gone (as ``| head -0``)."""
    proc = subprocess.Popen([sys.executable, "-m", "mltasks", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # before the child writes anything
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize("args", [["list"], ["--help"], ["plugins", "--json"]])
def test_a_closed_pipe_ends_quietly(args):
    code, err = _closed_pipe(args)
    assert err == "", err
    assert code in (0, 1)  # 1, as Python's own pipe handling; never a traceback or "Error:" line


def test_list_piped_into_head_prints_nothing_on_stderr():
    proc = subprocess.run(f"{sys.executable} -m mltasks list | head -1; {sys.executable} -m mltasks list | grep -q .",
                          shell=True, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert len(proc.stdout.splitlines()) <= 1


def test_ctrl_c_during_run_prints_one_line_and_exits_130(toy, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("mltasks.runner.execute", interrupted)
    result = invoke("run", "toy")
    assert result.exit_code == 130 and result.output == "Interrupted.\n"


@pytest.fixture
def runner_calls(monkeypatch, tmp_path):
    calls = []

    def fake_execute(request, **kwargs):
        calls.append({**dataclasses.asdict(request), **kwargs})
        return SimpleNamespace(split="test", metrics={"mse": 0.5}, run_dir=tmp_path / "r")

    monkeypatch.setattr("mltasks.runner.execute", fake_execute)
    return calls


def test_run_passes_tracking_options_to_the_runner(runner_calls):
    cases = [
        ([], (None, None, True)),
        (["--track"], ("mlflow", None, True)),
        (["--track", "mlflow", "--experiment", "exp one", "--track-model", "no"], ("mlflow", "exp one", False)),
        (["--track-model"], (None, None, True)),
        (["--experiment", "e", "--track"], ("mlflow", "e", True)),
    ]
    for args, expected in cases:
        result = invoke("run", "toy", *args, "--set", "epochs=2", "noise=0")
        assert result.exit_code == 0, result.output
        call = runner_calls.pop()
        assert (call["track"], call["experiment"], call["track_model"]) == expected, args
        assert call["overrides"] == {"epochs": "2", "noise": "0"}
    assert "Metrics (test):\n  mse: 0.5\n" in result.output


def test_run_with_tracking_reaches_the_real_runner(toy, tmp_path, monkeypatch):
    seen = {}

    def run_tracker(track, **kwargs):
        seen["track"] = track
        seen["experiment"] = kwargs.get("experiment")
        seen["log_model"] = kwargs.get("log_model")

        class Tracker:
            def start(self, **kw):
                pass

            def finish(self, **kw):
                return {"backend": "fake", "status": "logged"}

        return Tracker()

    monkeypatch.setattr("mltasks.run_request.run_tracker", run_tracker)
    result = invoke("run", "toy", "--out", str(tmp_path / "r"), "--track", "--experiment", "e1",
                    "--track-model", "no")
    assert result.exit_code == 0, result.output
    assert seen == {"track": "mlflow", "experiment": "e1", "log_model": False}


def test_help_lists_lazy_commands_without_importing_them():
    code = (
        "import sys\nfrom mltasks.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='mltasks')\nexcept SystemExit as e:\n    code = e.code\n"
        "mods = ('fastapi', 'uvicorn', 'mlflow', 'optuna', 'torch', 'sklearn', 'pandas', 'mltasks.serve.command',\n"
        "        'mltasks.runs.command', 'mltasks.tune.command', 'mltasks.runner')\n"
        "print('LOADED:' + ','.join(m for m in mods if m in sys.modules))\nsys.exit(code or 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rsplit("LOADED:", 1)[1].strip() == ""
    for name in ("serve", "runs", "compare", "tune", "run", "predict"):
        assert f"\n  {name} " in proc.stdout, name


GHOST_PLUGIN = """
from mltasks import hookimpl

@hookimpl
def register_commands(cli):
    cli.add_lazy_command("ghost", "mltasks.no_such_module:ghost", "A ghost command.")
"""


def test_a_lazy_command_whose_module_is_missing_exits_2(make_distribution):
    make_distribution("mltasks-ghost", "ghost_plugin", GHOST_PLUGIN, entry="ghost")
    result = invoke("--help")
    assert result.exit_code == 0 and "ghost     A ghost command." in result.output
    for args in (["ghost"], ["ghost", "--help"], ["ghost", "x", "--y", "1"]):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: 'mltasks ghost' is not available in this installation: cannot "
                                        "import mltasks.no_such_module (No module named 'mltasks.no_such_module')")
        assert len(result.output.splitlines()) == 1


def test_lazy_commands_run(tmp_path):
    result = invoke("runs", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []
    assert invoke("tune", "--help").output.startswith("Usage: cli tune [OPTIONS] TASK")


def test_bad_config_files_name_the_file(toy, tmp_path):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\x80\x04\x95junk")
    broken = tmp_path / "broken.toml"
    broken.write_text("epochs = \n")
    typed = tmp_path / "typed.toml"
    typed.write_text('epochs = "three"\n')
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[model]\nlr = 1\n")
    table = tmp_path / "table.toml"
    table.write_text('config = "x"\n')
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    cases = {
        binary: f"Error: {binary}: not valid TOML: not UTF-8 text (byte 0)",
        broken: f"Error: {broken}: not valid TOML: ",
        typed: f"Error: {typed}: config key 'epochs': 'three' is not a valid int",
        unknown: f"Error: {unknown}: unknown config key 'model'",
        table: f"Error: {table}: 'config' must be a table ([config]), got str",
        folder: "Error: Invalid value for '--config': File ",
    }
    for path, message in cases.items():
        result = invoke("run", "toy", "--config", str(path), "--out", str(tmp_path / "never"))
        assert result.exit_code == 2, (path, result.output)
        lines = result.output.splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), (path, lines)
    assert not (tmp_path / "never").exists()


def test_unreadable_config_file_names_the_file(toy, tmp_path):
    (tmp_path / "a-file").write_text("")
    path = tmp_path / "a-file" / "c.toml"  # a path through a file: unreadable, even for root
    result = invoke("run", "toy", "--config", str(path), "--out", str(tmp_path / "never"))
    assert result.exit_code == 2
    assert result.output == f"Error: {path}: cannot read the config file (Not a directory)\n"
