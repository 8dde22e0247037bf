"""The command line, in-process through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mltasks.cli import cli


def invoke(*args, **kw):
    return CliRunner().invoke(cli, list(args), **kw)


def test_version_and_help():
    assert invoke("--version").output.startswith("mltasks, version ")
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("list", "info", "run", "evaluate", "predict", "plugins", "serve", "runs", "compare", "tune"):
        assert command in result.output


def test_list_shows_toy(toy):
    result = invoke("list")
    assert result.exit_code == 0
    assert "toy" in result.output and "mltasks-toy" in result.output
    rows = json.loads(invoke("list", "--json").output)
    assert {"name": "toy", "summary": "least-squares line", "distribution": "mltasks-toy", "version": "1.0"} in rows


def test_info_lists_every_option_with_default_and_help(toy):
    result = invoke("info", "toy")
    assert result.exit_code == 0
    for text in ("CSV x,y", "y = 3x - 2", "noise (float, default 0.1)", "noise added to the sample targets",
                 "names (tuple[str, ...], default ('a', 'b'))", "seed (int, default 0)"):
        assert text in result.output


def test_unknown_task_names_installed_ones_and_builtin_distribution(toy, monkeypatch):
    monkeypatch.setenv("MLTASKS_LOAD_PLUGINS", "toy")
    result = invoke("run", "nosuch")
    assert result.exit_code == 2
    assert result.output == "Error: unknown task 'nosuch'; installed tasks: toy\n"
    result = invoke("info", "speech")
    assert result.exit_code == 2
    assert "it is built in but not installed: pip install mltasks-speech" in result.output


def test_run_evaluate_predict(toy, tmp_path):
    out = tmp_path / "run1"
    result = invoke("run", "toy", "--out", str(out), "--set", "noise=0", "epochs=2", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "mse:" in result.output and str(out) in result.output
    for name in ("config.json", "run.json", "metrics.json", "report.md", "run.log", "model/coef.npy"):
        assert (out / name).exists(), name
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "toy" and config["config"]["seed"] == 3 and config["config"]["epochs"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["metrics"]["mse"] < 1e-20  # noise=0: an exact fit
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["status"] == "complete" and run_info["data"]["sizes"] == {"train": 120, "val": 40, "test": 40}
    report = (out / "report.md").read_text()
    assert "## Training history" in report and "| Coefficients" not in report and "## Coefficients" in report

    evaluated = json.loads(invoke("evaluate", str(out), "--json").output)
    assert evaluated["metrics"] == metrics["metrics"]
    result = invoke("predict", str(out), "0", "1", "--json")
    assert result.exit_code == 0, result.output
    assert [round(r["y"], 6) for r in json.loads(result.output)] == [-2.0, 1.0]
    listing = sorted(p.name for p in out.rglob("*"))
    invoke("evaluate", str(out))
    invoke("predict", str(out), "0.5", "--out", str(tmp_path / "pred.json"))
    assert sorted(p.name for p in out.rglob("*")) == listing  # a finished run is never changed
    assert json.loads((tmp_path / "pred.json").read_text())[0]["x"] == 0.5


def test_evaluate_set_changes_the_scoring_config_but_never_the_split(toy, tmp_path):
    out = tmp_path / "r"
    assert invoke("run", "toy", "--out", str(out), "--set", "noise=0").exit_code == 0
    plain = json.loads(invoke("evaluate", str(out), "--json").output)
    scaled = invoke("evaluate", str(out), "--json", "--set", "scale=2", "epochs=2")
    assert scaled.exit_code == 0, scaled.output
    assert json.loads(scaled.output)["metrics"]["mse"] > plain["metrics"]["mse"] + 1  # targets doubled
    assert json.loads((out / "config.json").read_text())["config"]["scale"] is None  # the run is unchanged
    for bad, message in (("seed=1", "evaluate keeps the run's seeds and split"), ("nosuch=1", "nosuch"),
                         ("noise=-1", "noise must be >= 0")):
        result = invoke("evaluate", str(out), "--set", bad)
        assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, result.output


def test_precedence_defaults_file_set_seed(toy, tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text("noise = 0.5\nepochs = 4\nseed = 9\n")
    result = invoke("run", "toy", "--config", str(conf), "--set", "epochs=5", "--seed", "1",
                    "--out", str(tmp_path / "r"), "--quick")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert (saved["noise"], saved["epochs"], saved["seed"], saved["smoke"]) == (0.5, 5, 1, True)


def test_bad_config_exits_2_with_one_line(toy, tmp_path):
    cases = {
        ("--set", "epoch=3"): "unknown config key 'epoch' (did you mean 'epochs'?)",
        ("--set", "epochs=three"): "config key 'epochs': 'three' is not a valid int",
        ("--set", "noise=-1"): "noise must be >= 0",
        ("--set", "noise"): "--set expects KEY=VALUE",
        ("--config", str(tmp_path / "missing.toml")): "missing.toml: config file not found",
    }
    for args, message in cases.items():
        result = invoke("run", "toy", *args, "--out", str(tmp_path / "never"))
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], (args, lines)
    assert not (tmp_path / "never").exists() and not list(tmp_path.glob(".never*"))


def test_bad_data_exits_2_naming_the_file_and_writes_nothing(toy, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    result = invoke("run", "toy", "--data", str(junk), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {junk}: not a numeric x,y CSV (UnicodeDecodeError)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.csv", "site"]


def test_existing_run_needs_force(toy, tmp_path):
    out = tmp_path / "r"
    assert invoke("run", "toy", "--out", str(out), "--set", "noise=0").exit_code == 0
    first = (out / "metrics.json").read_text()
    result = invoke("run", "toy", "--out", str(out), "--set", "noise=0.3")
    assert result.exit_code == 2 and "already exists (use --force" in result.output
    assert (out / "metrics.json").read_text() == first
    assert invoke("run", "toy", "--out", str(out), "--set", "noise=0.3", "--force").exit_code == 0
    assert (out / "metrics.json").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "site"]


def test_default_run_directory_names_do_not_clash(toy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert invoke("run", "toy").exit_code == 0
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(names) == 2 and all(n.startswith("toy-") for n in names)


def test_failure_leaves_no_complete_directory_and_resume_continues(toy, tmp_path):
    out = tmp_path / "r"
    result = invoke("run", "toy", "--out", str(out), "--set", "fail_in_train=true")
    assert result.exit_code == 1 and "unexpected RuntimeError: boom" in result.output
    assert not out.exists()
    partial = tmp_path / ".r.partial"
    assert (partial / "checkpoints" / "state.json").exists()  # kept: it holds a checkpoint
    assert json.loads((partial / "run.json").read_text())["status"] == "failed"
    # the same config would fail again; resume with the saved config after fixing it by hand
    saved = json.loads((partial / "config.json").read_text())
    saved["config"]["fail_in_train"] = False
    (partial / "config.json").write_text(json.dumps(saved))
    result = invoke("run", "toy", "--resume", str(partial))
    assert result.exit_code == 0, result.output
    assert (out / "metrics.json").exists() and not partial.exists()
    assert not (out / "checkpoints").exists()


def test_resume_without_interrupted_run_is_a_clear_error(toy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "toy", "--resume")
    assert result.exit_code == 2 and "no interrupted toy run to resume" in result.output


def test_predict_bad_run_dir(tmp_path, toy):
    result = invoke("predict", str(tmp_path / "nope"), "1")
    assert result.exit_code == 2 and "no such run directory" in result.output


def test_debug_shows_traceback(toy, tmp_path):
    result = invoke("--debug", "run", "toy", "--out", str(tmp_path / "r"), "--set", "fail_in_train=1")
    assert isinstance(result.exception, RuntimeError)


def test_relative_data_path_is_stored_absolute_and_changed_data_warns(toy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "d.csv"
    data.write_text("x,y\n" + "\n".join(f"{i / 10},{i / 5}" for i in range(30)))
    assert invoke("run", "toy", "--data", "d.csv", "--out", "r").exit_code == 0
    assert json.loads((tmp_path / "r" / "config.json").read_text())["data"] == str(data)
    monkeypatch.chdir(tmp_path / "site")
    result = invoke("evaluate", str(tmp_path / "r"), "--json")
    assert result.exit_code == 0 and "warning" not in json.loads(result.output)
    data.write_text("x,y\n" + "\n".join(f"{i / 10},{i / 5}" for i in range(20)))
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "r")])
    assert result.exit_code == 0 and "Warning: " in result.output and "the data changed since the run" in result.output


def test_predict_takes_negative_numbers_as_inputs(toy, tmp_path):
    assert invoke("run", "toy", "--out", str(tmp_path / "r"), "--set", "noise=0").exit_code == 0
    result = invoke("predict", str(tmp_path / "r"), "-1", "--json")
    assert result.exit_code == 0, result.output
    assert round(json.loads(result.output)[0]["y"], 6) == -5.0


def test_report_keeps_the_order_blocks_were_added(tmp_path):
    from mltasks.report import Report, render

    report = Report().add_table("T1", [{"a": 1}]).add_section("S1", "text").add_table("T2", [{"b": 2}])
    text = render(task_name="t", run_dir=tmp_path, run_info={}, config={}, metrics={"m": 1.0}, split="test",
                  report=report)
    assert text.index("## T1") < text.index("## S1") < text.index("## T2")


def test_debug_flag_does_not_leak_into_later_invocations(toy, tmp_path):
    import os

    invoke("--debug", "run", "toy", "--out", str(tmp_path / "r"), "--set", "fail_in_train=1")
    assert "MLTASKS_DEBUG" not in os.environ
    result = invoke("run", "toy", "--set", "epochs=x")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_consecutive_runs_in_one_process_log_to_their_own_files(toy, tmp_path):
    import logging
    import warnings

    import mltasks

    mltasks.run("toy", out=tmp_path / "a")
    mltasks.run("toy", out=tmp_path / "b")
    warnings.warn("after both runs", UserWarning, stacklevel=1)  # must not reach a renamed run's log
    for name in ("mltasks", "py.warnings"):
        assert not [h for h in logging.getLogger(name).handlers if isinstance(h, logging.FileHandler)]
    assert "after both runs" not in (tmp_path / "b" / "run.log").read_text()


def test_splits_scored_names_the_evaluated_split():
    from mltasks import Splits

    assert Splits(train=[1], val=[2], test=[3]).scored() == ([3], "test")
    assert Splits(train=[1], val=[2], test=[3], test_labelled=False).scored() == ([3], "cv")
    assert Splits(train=[1], val=[2]).scored() == ([2], "val")
