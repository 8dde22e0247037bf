"""Text to typed values: the click parameter types behind ``--set``, TOML values and predict options."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, Optional

import click
import pytest
from click.testing import CliRunner

from mltasks.errors import ConfigError
from mltasks.params import Untyped, convert, param_type, type_name


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        ("12", int, 12), ("1e5", int, 100_000), ("1_000", int, 1000), (" 7 ", int, 7), (3.0, int, 3), (4, int, 4),
        ("3e-4", float, 3e-4), (2, float, 2.0), ("inf", float, math.inf),
        ("yes", bool, True), ("Off", bool, False), ("t", bool, True), (False, bool, False),
        ("x", str, "x"), (3, str, "3"), ("runs/a", Path, Path("runs/a")),
        ("lstm", Literal["cnn", "lstm"], "lstm"), ("3", Literal[1, 3], 3), (3, Literal["3", 3], 3),
        ("none", Optional[int], None), ("", int | None, None), ("5", int | None, 5),  # noqa: UP045
        ("1.5", int | float, 1.5), ("2", int | float, 2),
        ("128, 64,32", tuple[int, ...], (128, 64, 32)), ([8, 4], tuple[int, ...], (8, 4)),
        ("a,b", list[str], ["a", "b"]), ("", tuple[int, ...], ()), ("0.5,2", tuple[float, float], (0.5, 2.0)),
        ("true", Untyped, True), ("3", Untyped, 3), ("2.5", Untyped, 2.5), ("x", Untyped, "x"), (7, Untyped, 7),
        ({"a": 1}, Any, {"a": 1}), ({"a": 1}, dict, {"a": 1}),
    ],
)
def test_conversion_table(value, tp, expected):
    converted = convert(value, tp, "k")
    assert converted == expected and type(converted) is type(expected)


@pytest.mark.parametrize(
    ("value", "tp", "message"),
    [
        ("2.5", int, "config key 'k': '2.5' is not a valid int"),
        (True, int, "config key 'k': True is not a valid int"),
        ("1e400x", int, "config key 'k': '1e400x' is not a valid int"),
        ("nan", float, "config key 'k': 'nan' is not a valid float"),
        (math.nan, float, "config key 'k': nan is not a valid float"),
        (False, float, "config key 'k': False is not a valid float"),
        ("maybe", bool, "config key 'k': 'maybe' is not a valid bool"),
        (1, bool, "config key 'k': 1 is not a valid bool"),  # TOML's flag = 1 is not a flag
        ([1], str, "config key 'k': [1] is not a valid str"),
        ("gru", Literal["cnn", "lstm"], "config key 'k': 'gru' is not one of cnn, lstm"),
        ("x", int | None, "config key 'k': 'x' is not a valid int | None"),
        ("1,x", tuple[int, ...], "config key 'k': 'x' is not a valid int"),
        ("1,2,3", tuple[float, float], "config key 'k': '1,2,3' must have 2 values, got 3"),
        (5, list[int], "config key 'k': 5 is not a valid list[int]"),
    ],
)
def test_refusals_name_the_key_the_value_and_the_type(value, tp, message):
    with pytest.raises(ConfigError) as info:
        convert(value, tp, "k")
    assert str(info.value) == message


def test_field_choices_restrict_the_type():
    ptype = param_type(int, choices=[16, 32])
    assert ptype.convert("32", None, None) == 32
    with pytest.raises(click.BadParameter, match="'8' is not one of 16, 32"):
        ptype.convert("8", None, None)
    with pytest.raises(click.BadParameter, match="'x' is not one of 16, 32"):
        ptype.convert("x", None, None)


def test_the_types_are_click_parameter_types():
    @click.command()
    @click.option("--epochs", type=param_type(int))
    @click.option("--sizes", type=param_type(tuple[int, ...]))
    def command(epochs: int, sizes: tuple[int, ...]) -> None:
        click.echo(f"{epochs!r} {sizes!r}")

    assert CliRunner().invoke(command, ["--epochs", "1e3", "--sizes", "8,4"]).output == "1000 (8, 4)\n"
    result = CliRunner().invoke(command, ["--epochs", "2.5"])
    assert result.exit_code == 2 and "'2.5' is not a valid int" in result.output


def test_type_names():
    assert [type_name(t) for t in (int, int | None, tuple[str, ...], Literal["a"], Untyped)] == [
        "int", "int | None", "tuple[str, ...]", "choice", "auto"]
    assert convert("x", str, "top_k", what="predict option") == "x"
    with pytest.raises(ConfigError, match="^predict option 'top_k': 'x' is not a valid int$"):
        convert("x", int, "top_k", what="predict option")
