"""Resolving a task's configuration: defaults < quick presets < TOML file < ``--set`` < ``--seed``.

Values given as text (``--set epochs=5``) are converted to the dataclass field's type by
:mod:`mltasks.params` (int, float, bool, str, Path, Optional[...], tuple/list of those, Literal
choices and a field's ``metadata["choices"]``). With ``smoke`` on (``--quick``), the config
class's ``quick_presets`` fill in every field no layer set explicitly.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from mltasks.errors import ConfigError
from mltasks.params import Untyped, convert, convert_with, param_type, type_name
from mltasks.task import TaskConfig, check_common_fields

__all__ = [  # convert and type_name live in mltasks.params; they stay importable from here
    "Option", "convert", "field_param_types", "field_types", "options", "parse_assignments", "parse_option",
    "quick_config", "quick_presets", "read_toml", "resolve", "to_dict", "to_toml", "type_name", "unknown_key_error",
]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclasses.dataclass(frozen=True)
class Option:
    """One config field as ``mltasks info`` shows it."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()


def field_types(config_cls: type[TaskConfig]) -> dict[str, Any]:
    """The resolved type hints of a config dataclass's fields (each class in the MRO read in its
    own module, so a subclass need not import what TaskConfig's annotations name)."""
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_cls)}


def _choices(tp: Any, f: dataclasses.Field) -> tuple[Any, ...]:
    if "choices" in f.metadata:
        return tuple(f.metadata["choices"])
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    return ()


def options(config_cls: type[TaskConfig]) -> list[Option]:
    """Every option of a config class with its type, default, help and choices."""
    types_ = field_types(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        tp = types_[f.name]
        out.append(Option(f.name, type_name(tp), default, f.metadata.get("help", ""), _choices(tp, f)))
    return out


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """Turn ``["a=1", "b=x"]`` into ``{"a": "1", "b": "x"}``.

    :raises ConfigError: for an item without ``=``.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = value
    return out


def read_toml(path: str | Path, table: str = "config") -> dict[str, Any]:
    """Read a TOML config file: the task's options (top level, or a ``[config]`` table), or, with
    ``table="run"``, its ``[run]`` table of run settings (``track``, ``experiment``, ``register``).

    :raises ConfigError: the file is missing or not valid TOML; a run setting is among the
        task's options (it belongs in ``[run]``); ``[run]`` holds an unknown key or a non-string.
    """
    run_keys = ("track", "experiment", "register")
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a TOML config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for name in ("config", "run"):
        if name in data and not isinstance(data[name], dict):
            raise ConfigError(f"{path}: '{name}' must be a table ([{name}]), got {type(data[name]).__name__}")
    run = data.pop("run", {})
    if table == "run":
        for key, value in run.items():
            if key not in run_keys:
                raise ConfigError(f"{path}: unknown [run] key {key!r}; valid keys: {', '.join(run_keys)}")
            if not isinstance(value, str):
                raise ConfigError(f"{path}: [run] {key} must be a string, got {type(value).__name__}")
        return run
    options = data["config"] if "config" in data else data
    for key in run_keys:
        if key in options or key in data:
            raise ConfigError(f"{path}: unknown config key {key!r}: it is a run setting, move it to the "
                              f"[run] table ([run] {key} = ...)")
    return options


def unknown_key_error(key: str, config_cls: type[TaskConfig], source: str = "") -> ConfigError:
    """The error for a key the config does not have, listing the valid ones."""
    names = [f.name for f in dataclasses.fields(config_cls)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    where = f"{source}: " if source else ""
    return ConfigError(f"{where}unknown config key {key!r}{hint}; valid keys: {', '.join(names)}")


def resolve(
    config_cls: type[TaskConfig],
    *layers: Mapping[str, Any] | None,
    sources: Iterable[str] = (),
) -> TaskConfig:
    """Build a config from the defaults and successive layers of overrides.

    :param layers: mappings applied in order (a TOML file's table, then ``--set`` values);
        text values are converted to the field's type. When the result has ``smoke`` on, the
        class's ``quick_presets`` apply to every field no layer names.
    :param sources: a label per layer for error messages (the file name, ``--set``).
    :raises ConfigError: an unknown key or a value of the wrong type.
    """
    ptypes = field_param_types(config_cls)
    values: dict[str, Any] = {}
    labels = list(sources)
    for i, layer in enumerate(layers):
        source = labels[i] if i < len(labels) else ""
        for key, value in (layer or {}).items():
            key = key.replace("-", "_")
            if key not in ptypes:
                raise unknown_key_error(key, config_cls, source)
            try:
                values[key] = convert_with(ptypes[key], value, key)
            except ConfigError as exc:
                raise ConfigError(f"{source}: {exc}" if source else str(exc)) from None
    smoke = values.get("smoke", _default(config_cls, "smoke"))
    if smoke:  # explicit values win over the presets: only unset fields take them
        values.update({k: v for k, v in quick_presets(config_cls).items() if k not in values})
    try:
        config = config_cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # a check in the config's __post_init__ that raised no ConfigError
        given = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise ConfigError(f"invalid configuration for {config_cls.__name__} ({given or 'defaults'}): {exc}") from None
    check_common_fields(config)  # a subclass's own __post_init__ may not call TaskConfig's
    return config


def to_dict(config: TaskConfig) -> dict[str, Any]:
    """A JSON-ready dict of the config's fields (tuples become lists, paths strings)."""

    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        return v

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def to_toml(values: Mapping[str, Any]) -> str:
    """Write flat config values as TOML that :func:`read_toml` reads back."""
    import json

    lines = []
    for key, value in values.items():
        if value is None:
            continue  # TOML has no null; the default applies
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        elif isinstance(value, (list, tuple)):
            text = json.dumps(list(value))
        else:
            text = json.dumps(str(value))
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def parse_option(value: str) -> Any:
    """Text read without a declared type (:class:`mltasks.params.Untyped`): ``true``/``false``,
    an integer, a float, else the text itself. Predict options declared with a type are
    converted by :func:`mltasks.predict_options.check` instead."""
    return convert(value, Untyped, "value")


def field_param_types(config_cls: type[TaskConfig]) -> dict[str, click.ParamType]:
    """Each field's parameter type: its type hint, restricted to ``metadata["choices"]`` if given."""
    types_ = field_types(config_cls)
    return {f.name: param_type(types_[f.name], f.metadata.get("choices")) for f in dataclasses.fields(config_cls)}


def _default(config_cls: type[TaskConfig], name: str) -> Any:
    for f in dataclasses.fields(config_cls):
        if f.name == name:
            return f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
    return None


def quick_presets(config_cls: type[TaskConfig]) -> dict[str, Any]:
    """The config class's ``quick_presets`` converted to the fields' types: what ``--quick``
    (``smoke``) changes in the fields nobody set.

    :raises ConfigError: a preset names no field or has a value of the wrong type (the
        plugin's mistake; the kit's config check catches it).
    """
    declared = getattr(config_cls, "quick_presets", None) or {}
    ptypes = field_param_types(config_cls)
    out = {}
    for key, value in declared.items():
        if key not in ptypes or key == "smoke":
            raise ConfigError(f"{config_cls.__name__}.quick_presets: {key!r} is not a field it may preset")
        try:
            out[key] = convert_with(ptypes[key], value, key)
        except ConfigError as exc:
            raise ConfigError(f"{config_cls.__name__}.quick_presets: {exc}") from None
    return out


def quick_config(config: TaskConfig) -> TaskConfig:
    """``config`` as ``--quick`` makes it, for code that holds a config already (the conformance
    kit): ``smoke`` on, and each of ``quick_presets`` applied to the fields still at their default
    (a field given another value was set on purpose and keeps it).

    :raises ConfigError: a bad preset (see :func:`quick_presets`).
    """
    cls = type(config)
    defaults = {f.name: _default(cls, f.name) for f in dataclasses.fields(config)}
    changes = {k: v for k, v in quick_presets(cls).items() if getattr(config, k) == defaults[k]}
    return dataclasses.replace(config, smoke=True, **changes)
