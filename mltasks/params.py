"""Text to typed values: one click ``ParamType`` per type hint, and :func:`convert` built on them.

Every value a user gives as text goes through here: ``--set`` and TOML values into a config
dataclass (:func:`mltasks.config.resolve`), predict options from ``mltasks predict --set``, a
``serve`` request or an MLflow model's params (:mod:`mltasks.predict_options`). Supported hints:
``int`` (``"1e5"`` and ``"1_000"`` too, when integral), ``float`` (never nan), ``bool``, ``str``,
``Path``, ``Literal[...]`` choices, ``Optional[...]`` and other unions, ``tuple``/``list`` of
those (text is comma-separated; ``tuple[float, float]`` has a fixed length), ``Any`` (the value
as given; so does any other hint) and :class:`Untyped` (text guessed as bool, int, float or else kept as text).

The types are ordinary click parameter types, so a command may use them too:
``click.option("--epochs", type=param_type(int))``.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from mltasks.errors import ConfigError

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}
_NONE = {"none", "null", ""}


class Untyped:
    """Type-hint marker for a value declared without a type (a predict option given as a plain
    help string): text ``true``/``false`` becomes a bool, an integer an int, a number a float,
    anything else stays text; values that are not text are kept as they are."""


def type_name(tp: Any) -> str:
    """A short human name for a type hint: ``int``, ``float | None``, ``tuple[str, ...]``."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return "choice"
    if tp is Untyped:
        return "auto"
    if origin is None and isinstance(tp, type):  # tuple[str, ...] is a "type" on Python 3.10
        return tp.__name__
    return str(tp).replace("typing.", "")


class HintType(click.ParamType):
    """A click parameter type for one type hint; refusals read ``'x' is not a valid int``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def refuse(self, value: Any, param: click.Parameter | None = None,
               ctx: click.Context | None = None) -> typing.NoReturn:
        """Fail with the standard message naming the value and this type."""
        self.fail(f"{value!r} is not a valid {self.name}", param, ctx)


class AnyValue(HintType):
    """``Any``: the value as given."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return ``value`` unchanged."""
        return value


class GuessedValue(HintType):
    """:class:`Untyped`: text read as bool, int, float or else text; other values unchanged."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Guess the value's type from its text."""
        if not isinstance(value, str):
            return value
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        for cast in (int, float):
            try:
                return cast(value)
            except ValueError:
                pass
        return value


class BoolValue(HintType):
    """``bool``: a bool, or text 1/0, true/false, yes/no, on/off, y/n, t/f (any case)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Read a flag; a number (TOML ``1``) is refused, not taken as true."""
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        self.refuse(value, param, ctx)


class IntValue(HintType):
    """``int``: whole numbers, also written ``1_000`` or ``1e5``; never a bool or 2.5."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Read a whole number."""
        if isinstance(value, bool):
            self.refuse(value, param, ctx)
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
                    self.refuse(value, param, ctx)
                if number.is_integer():  # "1e5" steps
                    return int(number)
        self.refuse(value, param, ctx)


class FloatValue(HintType):
    """``float``: a number; nan is refused (it slips past every range check a config makes)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Read a real number."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.refuse(value, param, ctx)
        try:
            real = float(value.strip()) if isinstance(value, str) else float(value)
        except ValueError:
            self.refuse(value, param, ctx)
        if real != real:
            self.refuse(value, param, ctx)
        return real


class TextValue(HintType):
    """``str``: text, or a number written as text (TOML ``name = 3``); never a bool or a list."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Read text."""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        self.refuse(value, param, ctx)


class PathValue(HintType):
    """``Path``: any text as a path (nothing is checked on disk)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Read a path."""
        if isinstance(value, (bool, list, tuple, dict)) or value is None:
            self.refuse(value, param, ctx)
        return Path(str(value))


class ChoiceValue(HintType):
    """``Literal[...]`` or a field's ``metadata={"choices": ...}``: one of the choices (text
    matches a choice's text, so ``"3"`` picks the choice ``3``)."""

    def __init__(self, choices: Sequence[Any]) -> None:
        super().__init__("choice")
        self.choices = tuple(choices)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The choice ``value`` names."""
        for choice in self.choices:
            if value == choice and type(value) is type(choice):
                return choice
        for choice in self.choices:
            if value == choice or (isinstance(value, str) and str(choice) == value.strip()):
                return choice
        self.fail(f"{value!r} is not one of {', '.join(map(str, self.choices))}", param, ctx)


class UnionValue(HintType):
    """``X | Y`` and ``Optional[X]``: none/null/empty text is None when allowed, else the first
    member type that accepts the value."""

    def __init__(self, name: str, members: Sequence[click.ParamType], optional: bool) -> None:
        super().__init__(name)
        self.members = tuple(members)
        self.optional = optional

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Try None, then each member type in order."""
        if self.optional and (value is None or (isinstance(value, str) and value.strip().lower() in _NONE)):
            return None
        for member in self.members:
            try:
                return member.convert(value, param, ctx)
            except click.BadParameter:
                continue
        self.refuse(value, param, ctx)


class ItemsValue(HintType):
    """``tuple[...]``/``list[...]``: a sequence, or comma-separated text; ``tuple[X, Y]`` must
    have exactly as many values as it has types."""

    def __init__(self, name: str, container: type, items: Sequence[click.ParamType], fixed: bool) -> None:
        super().__init__(name)
        self.container = container
        self.items = tuple(items)
        self.fixed = fixed

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Split text on commas, convert each item, and return a tuple or a list."""
        values: list[Any]
        if isinstance(value, str):
            values = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, (list, tuple)):
            values = list(value)
        else:
            self.refuse(value, param, ctx)
        if self.fixed:
            if len(values) != len(self.items):
                self.fail(f"{value!r} must have {len(self.items)} values, got {len(values)}", param, ctx)
            converted = [t.convert(v, param, ctx) for v, t in zip(values, self.items)]
        else:
            converted = [self.items[0].convert(v, param, ctx) for v in values]
        return tuple(converted) if self.container is tuple else converted


_SIMPLE: dict[Any, type[HintType]] = {
    Any: AnyValue, Untyped: GuessedValue, bool: BoolValue, int: IntValue, float: FloatValue, str: TextValue,
    Path: PathValue,
}


def param_type(tp: Any, choices: Iterable[Any] | None = None) -> click.ParamType:
    """The click parameter type that reads values of the type hint ``tp``.

    :param choices: a config field's ``metadata["choices"]``: the value must also be one of them
        (converted to ``tp`` first). A hint with no text form (``dict``, a class) takes values as given.
    """
    base = _cached(tp)
    if choices is None:
        return base
    allowed = [base.convert(c, None, None) for c in choices]
    return _Restricted(base, ChoiceValue(allowed))


class _Restricted(HintType):
    """A type whose values must also be among a field's declared choices."""

    def __init__(self, base: click.ParamType, choices: ChoiceValue) -> None:
        super().__init__("choice")
        self.base, self.choices = base, choices

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Convert with the base type, then check the choices; a refusal names the value as given."""
        try:
            return self.choices.convert(self.base.convert(value, param, ctx), param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not one of {', '.join(map(str, self.choices.choices))}", param, ctx)


def _cached(tp: Any) -> click.ParamType:
    try:  # keyed by the hint's class too: Optional[int] == int | None, but they print differently
        return _build_cached(tp, type(tp).__qualname__)
    except TypeError as exc:
        if "unhashable" not in str(exc):
            raise
        return _build(tp)


@functools.lru_cache(maxsize=512)
def _build_cached(tp: Any, kind: str) -> click.ParamType:
    return _build(tp)


def _build(tp: Any) -> click.ParamType:
    try:
        simple = _SIMPLE.get(tp)
    except TypeError:  # an unhashable hint is none of the simple ones
        simple = None
    if simple is not None:
        return simple(type_name(tp))
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return ChoiceValue(args)
    if origin is typing.Union or origin is types.UnionType:
        members = [_cached(a) for a in args if a is not type(None)]
        return UnionValue(type_name(tp), members, optional=type(None) in args)
    if origin in (tuple, list) or tp in (tuple, list):
        container = origin or tp
        fixed = container is tuple and bool(args) and args[-1] is not Ellipsis
        items = [_cached(a) for a in args] if fixed else [_cached(args[0] if args else Any)]
        return ItemsValue(type_name(tp), container, items, fixed)
    return AnyValue(type_name(tp))  # a hint with no text form (a dict, a class): the value as given


def convert(value: Any, tp: Any, key: str, what: str = "config key") -> Any:
    """Convert ``value`` (text from the command line, or a TOML/JSON value) to the type ``tp``.

    :param key: the name the error message gives (``config key 'epochs': ...``).
    :param what: what ``key`` is: ``config key`` or ``predict option``.
    :raises ConfigError: naming the key, the value and the expected type.
    """
    return convert_with(param_type(tp), value, key, what)


def convert_with(ptype: click.ParamType, value: Any, key: str, what: str = "config key") -> Any:
    """:func:`convert` with a parameter type already built (a field's, with its choices).

    :raises ConfigError: naming the key, the value and what was expected.
    """
    try:
        return ptype.convert(value, None, None)
    except click.BadParameter as exc:
        raise ConfigError(f"{what} {key!r}: {exc.message}") from None
