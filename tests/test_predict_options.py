"""Predict options: declared with a type, checked and converted once by the core for every caller."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from click.testing import CliRunner

import mltasks
from mltasks import PredictOption, Task
from mltasks.cli import cli
from mltasks.errors import ConfigError
from mltasks.predict_options import check, check_declaration, declared, help_texts


class Echo(Task):
    """Returns the options it received, so a test sees what the core made of them."""

    predict_options = {
        "top_k": PredictOption(int, "how many"),
        "mode": PredictOption(Literal["fast", "exact"], "how"),
        "scale": PredictOption(float | None, "a factor"),
        "legacy": "an untyped option, declared the old way",
        "env_module": PredictOption(str, "a module to import", remote=False),
    }

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        return [dict(options)]


def test_every_call_gets_known_options_of_the_declared_types():
    (seen,) = Echo().predict(None, top_k="3", mode="exact", scale="none", legacy="true")
    assert seen == {"top_k": 3, "mode": "exact", "scale": None, "legacy": True}
    (seen,) = Echo().predict(["x"], top_k=2.0, legacy="0.5")  # JSON numbers, untyped guess
    assert seen == {"top_k": 2, "legacy": 0.5} and type(seen["top_k"]) is int


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"topk": "3"}, "unknown predict option 'topk'; valid: top_k, mode, scale, legacy, env_module"),
        ({"top_k": "three"}, "predict option 'top_k': 'three' is not a valid int"),
        ({"mode": "slow"}, "predict option 'mode': 'slow' is not one of fast, exact"),
        ({"scale": "nan"}, "predict option 'scale': 'nan' is not a valid float | None"),
    ],
)
def test_unknown_names_and_bad_values_are_config_errors(options, message):
    with pytest.raises(ConfigError) as info:
        Echo().predict(None, **options)
    assert str(info.value) == message


def test_a_subclass_calling_super_and_own_keywords():
    class Doubled(Echo):
        def predict(self, inputs: Any = None, *, extra: int = 0, **options: Any) -> list[dict[str, Any]]:
            return [*super().predict(inputs, **options), {"extra": extra}]

    assert Doubled().predict(inputs=["a"], top_k="4", extra=1) == [{"top_k": 4}, {"extra": 1}]
    with pytest.raises(ConfigError, match="unknown predict option 'nope'"):
        Doubled().predict(None, nope=1)


def test_remote_callers_see_only_remote_options():
    assert check(Echo, {"env_module": "pkg"}) == {"env_module": "pkg"}
    with pytest.raises(ConfigError, match="unknown predict option 'env_module'; valid: top_k, mode, scale, legacy$"):
        check(Echo, {"env_module": "pkg"}, remote=True)
    assert list(help_texts(Echo, remote=True)) == ["top_k", "mode", "scale", "legacy"]
    assert declared({"a": "help"})["a"].type_name == "auto"
    with pytest.raises(ConfigError, match="valid: none"):
        check({}, {"x": 1})


def test_an_untyped_option_naming_a_server_path_or_module_is_kept_from_remote_callers():
    legacy = {"top_k": "how many", "out_dir": "where", "plugin_module": "what to import", "gif_path": "to"}
    assert {k: o.remote for k, o in declared(legacy).items()} == {
        "top_k": True, "out_dir": False, "plugin_module": False, "gif_path": False}
    assert check(legacy, {"top_k": "2"}, remote=True) == {"top_k": 2}
    with pytest.raises(ConfigError, match="unknown predict option 'out_dir'; valid: top_k$"):
        check(legacy, {"out_dir": "/etc"}, remote=True)


def test_a_typed_option_without_remote_is_decided_by_its_name_and_remote_true_overrides():
    table = {"top_k": PredictOption(int, "how many"), "out_dir": PredictOption(str, "where"),
             "cache_file": PredictOption(str, "which", remote=True), "note": PredictOption(str, "why", remote=False)}
    assert {k: o.remote for k, o in declared(table).items()} == {
        "top_k": True, "out_dir": False, "cache_file": True, "note": False}
    assert list(help_texts(table, remote=True)) == ["top_k", "cache_file"]
    with pytest.raises(ConfigError, match="unknown predict option 'out_dir'; valid: top_k, cache_file$"):
        check(table, {"out_dir": "/etc"}, remote=True)
    assert check(table, {"out_dir": "/tmp/x"}) == {"out_dir": "/tmp/x"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (["top_k"], "predict_options must be a dict"),
        ({"top-k": PredictOption(int, "k")}, "predict_options key 'top-k' is not a keyword name"),
        ({"top_k": PredictOption(int, " ")}, "predict_options['top_k'] needs a help text"),
        ({"top_k": 3}, "predict_options['top_k'] must be a PredictOption or a help string, got int"),
    ],
)
def test_malformed_declarations_are_refused(table, message):
    with pytest.raises(TypeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_declaration(type("Declares", (), {"predict_options": table}))


@pytest.fixture(scope="module")
def majority_run(tmp_path_factory):
    return mltasks.run("majority", quick=True, out=tmp_path_factory.mktemp("runs") / "run").run_dir


@pytest.mark.parametrize(
    ("pairs", "line"),
    [
        (["top_k=x"], "Error: predict option 'top_k': 'x' is not a valid int\n"),
        (["top_k=2.5"], "Error: predict option 'top_k': '2.5' is not a valid int\n"),
        (["topk=2"], "Error: unknown predict option 'topk'; valid: top_k\n"),
    ],
)
def test_cli_bad_options_exit_2_with_one_line(majority_run, pairs, line):
    result = CliRunner().invoke(cli, ["predict", str(majority_run), "5.1,3.5,1.4,0.2", "--set", *pairs])
    assert result.exit_code == 2 and result.output == line


def test_cli_and_python_read_options_alike(majority_run):
    result = CliRunner().invoke(cli, ["predict", str(majority_run), "6.7,3.0,5.2,2.3", "--set", "top_k=1e0",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert "top" not in result.output  # 1e0 is the int 1: no top list
    from_python = mltasks.predict_run(majority_run, ["6.7,3.0,5.2,2.3"], top_k="3")
    assert [t["label"] for t in from_python[0]["top"]][0] == "virginica" and len(from_python[0]["top"]) == 3
