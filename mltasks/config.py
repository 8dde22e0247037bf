"""Resolving a task's configuration: defaults < TOML file < ``--set`` < ``--seed``.

Values given as text (``--set epochs=5``) are converted to the dataclass field's type:
int, float, bool, str, Optional[...], tuple/list of those, and Literal choices.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mltasks.errors import ConfigError
from mltasks.task import TaskConfig, check_common_fields

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}
_NONE = {"none", "null", ""}


@dataclasses.dataclass(frozen=True)
class Option:
    """One config field as ``mltasks info`` shows it."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()


def field_types(config_cls: type[TaskConfig]) -> dict[str, Any]:
    """The resolved type hints of a config dataclass's fields."""
    module = sys.modules.get(config_cls.__module__)
    hints = typing.get_type_hints(config_cls, globalns=vars(module) if module else None)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_cls)}


def type_name(tp: Any) -> str:
    """A short human name for a type hint: ``int``, ``float | None``, ``tuple[str, ...]``."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return "choice"
    if origin is None and isinstance(tp, type):  # tuple[str, ...] is a "type" on Python 3.10
        return tp.__name__
    return str(tp).replace("typing.", "")


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


def convert(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (text from the command line, or a TOML value) to the type ``tp``.

    :raises ConfigError: naming the key, the value and the expected type.
    """

    def bad() -> ConfigError:
        return ConfigError(f"config key {key!r}: {value!r} is not a valid {type_name(tp)}")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        non_none = [a for a in args if a is not type(None)]
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            if type(None) in args:
                return None
        for arg in non_none:
            try:
                return convert(value, arg, key)
            except ConfigError:
                continue
        raise bad()
    if origin is typing.Literal:
        for choice in args:
            if value == choice or (isinstance(value, str) and str(choice) == value.strip()):
                return choice
        raise ConfigError(f"config key {key!r}: {value!r} is not one of {', '.join(map(str, args))}")
    if origin in (tuple, list) or tp in (tuple, list):
        items: Iterable[Any]
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, (list, tuple)):
            items = value
        else:
            raise bad()
        items = list(items)
        if (origin or tp) is tuple and args and args[-1] is not Ellipsis:  # tuple[float, float]: fixed length
            if len(items) != len(args):
                raise ConfigError(f"config key {key!r}: {value!r} must have {len(args)} values, got {len(items)}")
            return tuple(convert(v, t, key) for v, t in zip(items, args))
        item_tp = args[0] if args else Any
        converted = [convert(v, item_tp, key) for v in items]
        return tuple(converted) if (origin or tp) is tuple else converted
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad()
    if tp is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                try:
                    number = float(value)
                except ValueError:
                    raise bad() from None
                if number.is_integer():  # "1e5" steps
                    return int(number)
        raise bad()
    if tp is float:
        if isinstance(value, bool):
            raise bad()
        if not isinstance(value, (str, int, float)):
            raise bad()
        try:
            real = float(value.strip()) if isinstance(value, str) else float(value)
        except ValueError:
            raise bad() from None
        if real != real:  # nan slips past every range check a config makes
            raise bad()
        return real
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad()
    if tp is Path:
        return Path(str(value))
    return value


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


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; a ``[config]`` table, if present, holds the options.

    :raises ConfigError: the file is missing or not valid TOML.
    """
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
    if "config" in data:
        if not isinstance(data["config"], dict):
            raise ConfigError(f"{path}: 'config' must be a table ([config]), got {type(data['config']).__name__}")
        data = data["config"]
    return data


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
        text values are converted to the field's type.
    :param sources: a label per layer for error messages (the file name, ``--set``).
    :raises ConfigError: an unknown key or a value of the wrong type.
    """
    types_ = field_types(config_cls)
    values: dict[str, Any] = {}
    labels = list(sources)
    for i, layer in enumerate(layers):
        source = labels[i] if i < len(labels) else ""
        for key, value in (layer or {}).items():
            key = key.replace("-", "_")
            if key not in types_:
                raise unknown_key_error(key, config_cls, source)
            try:
                values[key] = convert(value, types_[key], key)
            except ConfigError as exc:
                raise ConfigError(f"{source}: {exc}" if source else str(exc)) from None
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
    """A ``predict`` option's text (``--set`` on the command line, a form field of ``serve``)
    as a value: ``true``/``false``, an integer, a float, else the text itself."""
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value
