"""``mltasks predict``: ``--set`` takes several pairs as ``run``'s does, inputs stay inputs,
and the plain output prints whole records."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mltasks.cli import cli, expand_set_pairs, format_records


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def predict_calls(monkeypatch):
    calls = []

    def fake_predict(run_dir, inputs, **options):
        calls.append((inputs, options))
        return [{"input": i} for i in inputs] or [{"episode": 0, "return": 1.5}]

    monkeypatch.setattr("mltasks.finished.predict_run", fake_predict)
    return calls


@pytest.mark.parametrize(
    ("args", "inputs", "options"),
    [
        (["--set", "episodes=3", "seed=1"], [], {"episodes": "3", "seed": "1"}),  # the RL report's command
        (["a", "b", "--set", "top_k=3"], ["a", "b"], {"top_k": "3"}),
        (["--set", "a=1", "--set", "b=x", "c=true"], [], {"a": "1", "b": "x", "c": "true"}),
        (["--set", "top_k=3", "--", "x=1", "--json"], ["x=1", "--json"], {"top_k": "3"}),
        (["--set", "top_k=3", "word"], ["word"], {"top_k": "3"}),
        (["-1", "--set", "k=2.5", "-2"], ["-1", "-2"], {"k": "2.5"}),
        (["--set=a=1", "b=2"], [], {"a": "1", "b": "2"}),
        (["a=b", "--set", "x=y"], ["a=b"], {"x": "y"}),  # before the options, a pair is an input
        (["one", "two"], ["one", "two"], {}),
    ],
)
def test_set_takes_several_pairs_and_inputs_stay_inputs(predict_calls, args, inputs, options):
    """The command line hands the options over as text: the task's declared types convert them."""
    result = invoke("predict", "RUN", *args)
    assert result.exit_code == 0, result.output
    assert predict_calls == [(inputs, options)]


def test_set_without_a_pair_is_one_error_line(predict_calls):
    result = invoke("predict", "RUN", "--set", "oops")
    assert result.exit_code == 2 and result.output == "Error: --set expects KEY=VALUE, got 'oops'\n"
    result = invoke("predict", "RUN", "--set")
    assert result.exit_code == 2 and result.output == "Error: Option '--set' requires an argument.\n"
    assert predict_calls == []


def test_expand_set_pairs():
    assert expand_set_pairs(["--set", "a=1", "b=2", "--json", "c=3"]) == [
        "--set", "a=1", "--set", "b=2", "--json", "c=3"]
    assert expand_set_pairs(["--set", "a=1", "--", "b=2"]) == ["--set", "a=1", "--", "b=2"]
    assert expand_set_pairs(["--set", "a", "b=2"]) == ["--set", "a", "--set", "b=2"]
    assert expand_set_pairs(["--out", "f=1.json", "b=2"]) == ["--out", "f=1.json", "b=2"]


def test_predict_help_states_the_rule():
    text = invoke("predict", "--help").output
    assert "INPUTS come before the options, or after --" in text
    assert "mltasks predict RUN --set episodes=3 seed=1" in text


def test_flat_records_print_as_a_table():
    lines = format_records([{"label": "setosa", "probability": 0.98765432}, {"label": "virginica", "probability": 1.0,
                                                                              "note": None}])
    assert lines == ["label      probability  note", "setosa     0.987654", "virginica  1"]


def test_nested_records_print_whole():
    top = [{"item": f"movie number {i} with a long title", "score": i / 10} for i in range(10)]
    record = {"user": "u1", "items": top, "text": "two\nlines"}
    (line,) = format_records([record])
    assert line.startswith("user=u1  items=[")
    items = json.loads(line.split("items=", 1)[1].split("  text=", 1)[0])
    assert items == top and len(line) > 400  # the old 200-character cut would lose items 4-10
    assert line.endswith('text="two\\nlines"')
    assert format_records([]) == []


def test_plain_output_through_the_cli(toy, tmp_path):
    assert invoke("run", "toy", "--out", str(tmp_path / "r"), "--set", "noise=0").exit_code == 0
    result = invoke("predict", str(tmp_path / "r"), "0", "1", "-1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["x   y", "0   -2", "1   1", "-1  -5"]


def test_long_records_are_not_cut(predict_calls, monkeypatch):
    long = [{"user": "u", "top": [{"item": "x" * 30, "rank": r} for r in range(10)]}]
    monkeypatch.setattr("mltasks.finished.predict_run", lambda run_dir, inputs, **o: long)
    result = invoke("predict", "RUN", "u")
    assert result.exit_code == 0
    assert result.output.count('"item"') == 10 and '"rank": 9' in result.output
