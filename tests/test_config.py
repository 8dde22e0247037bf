"""Config resolution: text to typed values, TOML files, precedence and errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from mltasks import TaskConfig
from mltasks.config import convert, options, parse_assignments, read_toml, resolve, to_dict, to_toml
from mltasks.errors import ConfigError


@dataclass(frozen=True)
class Cfg(TaskConfig):
    lr: float = field(default=0.1, metadata={"help": "learning rate"})
    epochs: int = field(default=3, metadata={"help": "epochs"})
    model: Literal["cnn", "lstm"] = field(default="cnn", metadata={"help": "model"})
    layers: tuple[int, ...] = field(default=(64, 32), metadata={"help": "hidden sizes"})
    names: list[str] = field(default_factory=list, metadata={"help": "names"})
    limit: Optional[int] = field(default=None, metadata={"help": "limit"})  # noqa: UP045 - both spellings work
    cap: int | None = field(default=None, metadata={"help": "cap"})
    flag: bool = field(default=False, metadata={"help": "flag"})


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("lr", "3e-4", 3e-4), ("epochs", "12", 12), ("epochs", "1e5", 100000), ("epochs", "1_000", 1000),
        ("model", "lstm", "lstm"), ("layers", "128, 64,32", (128, 64, 32)), ("names", "a,b", ["a", "b"]),
        ("limit", "none", None), ("limit", "7", 7), ("cap", "", None), ("cap", "5", 5),
        ("flag", "yes", True), ("flag", "0", False), ("seed", "42", 42),
    ],
)
def test_text_values_convert_to_the_field_type(key, text, expected):
    config = resolve(Cfg, {key: text})
    assert getattr(config, key) == expected
    assert type(getattr(config, key)) is type(expected)


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("lr", "fast", "config key 'lr': 'fast' is not a valid float"),
        ("epochs", "2.5", "config key 'epochs': '2.5' is not a valid int"),
        ("flag", "maybe", "config key 'flag': 'maybe' is not a valid bool"),
        ("model", "gru", "config key 'model': 'gru' is not one of cnn, lstm"),
        ("layers", "1,x", "config key 'layers': 'x' is not a valid int"),
        ("epoch", "3", "unknown config key 'epoch' (did you mean 'epochs'?); valid keys: seed, smoke"),
    ],
)
def test_bad_values_name_key_value_and_type(key, text, message):
    with pytest.raises(ConfigError) as info:
        resolve(Cfg, {key: text})
    assert message in str(info.value)


def test_layers_apply_in_order_and_toml_values_are_checked(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('lr = 0.5\nepochs = 2\nlayers = [8, 4]\nmodel = "lstm"\n')
    config = resolve(Cfg, read_toml(path), {"epochs": "9"}, sources=[str(path), "--set"])
    assert (config.lr, config.epochs, config.layers, config.model) == (0.5, 9, (8, 4), "lstm")
    path.write_text("epochs = 'many'\n")
    with pytest.raises(ConfigError, match="'many' is not a valid int"):
        resolve(Cfg, read_toml(path))
    path.write_text("lr = \n")
    with pytest.raises(ConfigError, match="c.toml: not valid TOML"):
        read_toml(path)
    path.write_text("[config]\nbogus = 1\n")
    with pytest.raises(ConfigError, match=r"c.toml: unknown config key 'bogus'"):
        resolve(Cfg, read_toml(path), sources=[str(path)])


def test_toml_round_trip_of_resolved_config(tmp_path):
    config = resolve(Cfg, {"lr": "0.25", "layers": "3,2", "names": "x", "limit": "4", "flag": "true"})
    path = tmp_path / "best.toml"
    path.write_text(to_toml(to_dict(config)))
    assert resolve(Cfg, read_toml(path)) == config


def test_assignments_and_options():
    assert parse_assignments(["a=1", "b-c=x=y"]) == {"a": "1", "b_c": "x=y"}
    with pytest.raises(ConfigError, match="--set expects KEY=VALUE, got 'oops'"):
        parse_assignments(["oops"])
    opts = {o.name: o for o in options(Cfg)}
    assert opts["model"].choices == ("cnn", "lstm") and opts["model"].type == "choice"
    assert opts["names"].default == [] and opts["lr"].help == "learning rate"
    assert convert("3", int, "k") == 3


def test_every_bad_toml_file_is_a_config_error_naming_it(tmp_path):
    path = tmp_path / "c.toml"
    cases = {
        b"\xff\xfe\x00junk": "c.toml: not valid TOML: not UTF-8 text (byte 0)",
        b"epochs = \n": "c.toml: not valid TOML: ",
        b'config = "x"\n': "c.toml: 'config' must be a table ([config]), got str",
    }
    for content, message in cases.items():
        path.write_bytes(content)
        with pytest.raises(ConfigError) as info:
            read_toml(path)
        assert str(info.value).startswith(str(path)) and message in str(info.value), content
    with pytest.raises(ConfigError, match="is a folder, expected a TOML config file"):
        read_toml(tmp_path)
    path.write_text("epochs = 'many'\n")
    with pytest.raises(ConfigError) as info:
        resolve(Cfg, read_toml(path), sources=[str(path)])
    assert str(info.value) == f"{path}: config key 'epochs': 'many' is not a valid int"


@dataclass(frozen=True)
class Quick(TaskConfig):
    quick_presets = {"epochs": "1", "layers": [8], "limit": None}  # text and TOML-like values both convert
    epochs: int = field(default=10, metadata={"help": "epochs"})
    layers: tuple[int, ...] = field(default=(64, 32), metadata={"help": "hidden sizes"})
    limit: Optional[int] = field(default=100, metadata={"help": "limit"})  # noqa: UP045
    size: int = field(default=3, metadata={"help": "size", "choices": (3, 5)})


def test_quick_presets_fill_only_what_no_layer_set(tmp_path):
    assert (resolve(Quick).epochs, resolve(Quick).layers) == (10, (64, 32))  # no --quick: no presets
    quick = resolve(Quick, None, None, {"smoke": True})  # what --quick alone gives
    assert (quick.epochs, quick.layers, quick.limit) == (1, (8,), None)
    path = tmp_path / "c.toml"
    path.write_text("epochs = 4\n")
    mine = resolve(Quick, read_toml(path), {"layers": "16,16"}, {"smoke": True}, sources=[str(path), "--set"])
    assert (mine.epochs, mine.layers, mine.limit) == (4, (16, 16), None)  # file and --set beat the presets
    path.write_text("smoke = true\n")  # smoke from the file counts too
    assert resolve(Quick, read_toml(path)).epochs == 1


def test_quick_config_applies_presets_to_fields_at_their_default():
    from mltasks.config import quick_config

    quick = quick_config(Quick(epochs=7))
    assert (quick.smoke, quick.epochs, quick.layers, quick.limit) == (True, 7, (8,), None)
    assert quick_config(quick) == quick


def test_bad_presets_and_field_choices_are_config_errors():
    from mltasks.config import quick_presets

    class Typo(Quick):
        quick_presets = {"epoch": 1}

    class Wrong(Quick):
        quick_presets = {"epochs": "many"}

    with pytest.raises(ConfigError, match="Typo.quick_presets: 'epoch' is not a field it may preset"):
        quick_presets(Typo)
    with pytest.raises(ConfigError, match="Wrong.quick_presets: config key 'epochs': 'many' is not a valid int"):
        resolve(Wrong, {"smoke": "yes"})
    assert resolve(Quick, {"size": "5"}).size == 5
    with pytest.raises(ConfigError, match="config key 'size': '4' is not one of 3, 5"):
        resolve(Quick, {"size": "4"})


def test_quick_run_keeps_what_you_set(tmp_path):
    from click.testing import CliRunner

    from mltasks.cli import cli

    def run(*args: str) -> dict:
        out = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        result = CliRunner().invoke(cli, ["run", "majority", "--out", str(out), *args])
        assert result.exit_code == 0, result.output
        return json.loads((out / "config.json").read_text())

    assert run("--quick")["config"]["max_rows"] == 60  # the example plugin's preset
    saved = run("--quick", "--set", "max_rows=90", "test_size=0.5")
    assert saved["config"]["max_rows"] == 90 and saved["config"]["smoke"] is True
    assert run()["config"]["max_rows"] == 0
    info = CliRunner().invoke(cli, ["info", "majority"]).output
    assert "Quick presets (--quick; a value you set with --set or --config wins):\n  max_rows=60" in info
    help_text = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())
    assert "values you set with --set or --config win" in help_text
