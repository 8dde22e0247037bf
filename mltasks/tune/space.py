"""Search spaces for ``mltasks tune``: a TOML file naming config fields and distributions.

::

    [study]                      # optional
    metric = "accuracy"
    direction = "maximize"
    fixed = { folds = 5 }        # config values every trial runs with (--set overrides them)

    [model]
    type = "categorical"         # float | int | categorical
    choices = ["cnn", "lstm"]

    [lr]
    type = "float"
    low = 1e-4
    high = 1e-1
    log = true

    [kernel_size]                # asked only when model = "cnn" (define-by-run)
    type = "int"
    low = 3
    high = 7
    step = 2
    when = { model = "cnn" }     # or { model = ["cnn", "lstm"] }

A ``when`` table names categorical parameters defined earlier in the file and the value
(or values) they must take; a parameter whose condition does not hold is not suggested,
so the trial keeps the config default and the study records only the active parameters.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mltasks.config import convert, field_types, read_toml, unknown_key_error
from mltasks.errors import ConfigError
from mltasks.task import TaskConfig

KINDS = ("float", "int", "categorical")
_KEYS = {"type", "low", "high", "log", "step", "choices", "when"}
_UNTUNABLE = ("seed", "split_seed", "smoke")


@dataclass(frozen=True)
class Param:
    """One tuned config field, its distribution and the condition that makes it active."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # (categorical parameter, allowed values) pairs

    def active(self, chosen: dict[str, Any]) -> bool:
        """Whether the condition holds for the values suggested so far in this trial."""
        return all(name in chosen and chosen[name] in values for name, values in self.when)

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial for a value."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log,  # type: ignore[arg-type]
                                     step=int(self.step or 1))
        return trial.suggest_categorical(self.name, list(self.choices))


@dataclass(frozen=True)
class Space:
    """A validated search space, with the study's metric and direction if the file sets them."""

    params: tuple[Param, ...]
    metric: str = ""
    direction: str = ""
    source: str = ""
    fixed: tuple[tuple[str, Any], ...] = ()  # [study] fixed: (field, value) pairs set in every trial

    @property
    def conditional(self) -> bool:
        """Whether some parameter is active only for some choices of another."""
        return any(p.when for p in self.params)

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Define-by-run: ask the trial for every active parameter, in file order."""
        chosen: dict[str, Any] = {}
        for param in self.params:
            if param.active(chosen):
                chosen[param.name] = param.suggest(trial)
        return chosen


def _when(name: str, table: dict[str, Any], earlier: dict[str, Param], where: str) -> tuple:
    """Validate ``when = {param = value | [values]}`` against the categoricals defined before."""
    when = table.get("when")
    if when is None:
        return ()
    if not isinstance(when, dict) or not when:
        raise ConfigError(f"{where}: [{name}] 'when' must be a table such as {{ model = \"hgb\" }}")
    pairs = []
    for other, values in when.items():
        parent = earlier.get(other)
        if parent is None or parent.kind != "categorical":
            raise ConfigError(f"{where}: [{name}] 'when' names {other!r}, which must be a categorical "
                              "parameter defined earlier in the file")
        values = tuple(values) if isinstance(values, list) else (values,)
        missing = [v for v in values if v not in parent.choices]
        if not values or missing:
            raise ConfigError(f"{where}: [{name}] 'when' value {missing[0] if missing else values!r} is not "
                              f"one of [{other}] choices {list(parent.choices)}")
        pairs.append((other, values))
    return tuple(pairs)


def _param(name: str, table: Any, config_cls: type[TaskConfig], earlier: dict[str, Param], where: str) -> Param:
    types_ = field_types(config_cls)
    if name not in types_:
        raise unknown_key_error(name, config_cls, where)
    if name in _UNTUNABLE:
        raise ConfigError(f"{where}: [{name}] cannot be tuned (the study sets seeds; smoke is --quick)")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{name}] must be a table with type = \"float\" | \"int\" | \"categorical\"")
    kind = table.get("type")
    if kind not in KINDS:
        raise ConfigError(f"{where}: [{name}] type must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: [{name}] has unknown keys {sorted(unknown)}")
    when = _when(name, table, earlier, where)
    if kind == "categorical":
        choices = table.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: [{name}] needs a non-empty list 'choices'")
        for choice in choices:  # each must be a valid value of the field
            convert(choice, types_[name], name)
        return Param(name, kind, choices=tuple(choices), when=when)
    low, high, log, step = table.get("low"), table.get("high"), bool(table.get("log", False)), table.get("step")
    for label, value in (("low", low), ("high", high)):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}: [{name}] needs a numeric '{label}'")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):  # type: ignore[arg-type]
        raise ConfigError(f"{where}: [{name}] is an int range: low and high must be whole numbers")
    if not low < high:  # type: ignore[operator]
        raise ConfigError(f"{where}: [{name}] needs low < high, got low={low} high={high}")
    if log and low <= 0:  # type: ignore[operator]
        raise ConfigError(f"{where}: [{name}] log scale needs low > 0, got {low}")
    if log and step is not None:
        raise ConfigError(f"{where}: [{name}] cannot have both log and step")
    convert(low, types_[name], name)  # the field must take the range's values
    return Param(name, kind, low, high, log, step, when=when)


def parse_space(data: dict[str, Any], config_cls: type[TaskConfig], where: str = "search space") -> Space:
    """Validate a search-space table against a task's config class.

    :raises ConfigError: an unknown field, a bad type, an empty or inverted range, a ``when``
        naming an unknown or later parameter (the field is named).
    """
    study = data.get("study", {})
    if not isinstance(study, dict):
        raise ConfigError(f"{where}: [study] must be a table")
    params: dict[str, Param] = {}
    for name, table in data.items():
        if name != "study":
            params[name] = _param(name, table, config_cls, params, where)
    if not params:
        raise ConfigError(f"{where}: no parameters to tune")
    direction = study.get("direction", "")
    if direction not in ("", "maximize", "minimize"):
        raise ConfigError(f"{where}: [study] direction must be maximize or minimize, got {direction!r}")
    unknown = set(study) - {"metric", "direction", "fixed"}
    if unknown:
        raise ConfigError(f"{where}: [study] has unknown keys {sorted(unknown)} (metric, direction, fixed)")
    fixed = _fixed(study.get("fixed", {}), config_cls, params, where)
    return Space(tuple(params.values()), str(study.get("metric", "")), direction, where, fixed)


def _fixed(table: Any, config_cls: type[TaskConfig], params: dict[str, Param], where: str) -> tuple:
    """Validate ``[study] fixed``: config fields (not tuned, not seeds) and values of their types."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [study] fixed must be a table such as {{ folds = 5 }}")
    types_ = field_types(config_cls)
    out = []
    for name, value in table.items():
        if name not in types_:
            raise unknown_key_error(name, config_cls, f"{where} [study] fixed")
        if name in _UNTUNABLE or name in params:
            why = "the study sets seeds; smoke is --quick" if name in _UNTUNABLE else "it is also tuned"
            raise ConfigError(f"{where}: [study] fixed cannot set {name!r} ({why})")
        out.append((name, convert(value, types_[name], name)))
    return tuple(out)


def load_space(path: str | Path | None, config_cls: type[TaskConfig], default_ref: str = "") -> Space:
    """Read ``--space FILE`` or, without it, the task's default space (``"package:file.toml"``).

    :raises ConfigError: no file and no default, or a bad space.
    """
    if path is not None:
        return parse_space(read_toml(path), config_cls, str(path))
    if not default_ref:
        raise ConfigError("this task ships no default search space: give one with --space FILE.toml")
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    package, _, name = default_ref.partition(":")
    text = (resources.files(package) / name).read_text(encoding="utf-8")
    return parse_space(tomllib.loads(text), config_cls, default_ref)
