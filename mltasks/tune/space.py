"""Search spaces for ``mltasks tune``: a TOML file naming config fields and distributions.

::

    [study]                      # optional
    metric = "accuracy"
    direction = "maximize"

    [lr]
    type = "float"               # float | int | categorical
    low = 1e-4
    high = 1e-1
    log = true

    [epochs]
    type = "int"
    low = 2
    high = 20
    step = 2

    [model]
    type = "categorical"
    choices = ["cnn", "lstm"]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mltasks.config import convert, field_types, read_toml, unknown_key_error
from mltasks.errors import ConfigError
from mltasks.task import TaskConfig

KINDS = ("float", "int", "categorical")
_MINIMIZE_HINTS = ("loss", "error", "rmse", "mse", "mae", "perplexity", "wer", "cer", "logloss", "log_loss")


@dataclass(frozen=True)
class Param:
    """One tuned config field and its distribution."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

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


def default_direction(metric: str) -> str:
    """``minimize`` for losses and errors, ``maximize`` for everything else (and for
    scikit-learn's negated scores, ``neg_*``)."""
    lowered = metric.lower()
    if lowered.startswith("neg_"):
        return "maximize"
    return "minimize" if any(hint in lowered for hint in _MINIMIZE_HINTS) else "maximize"


def _param(name: str, table: Any, config_cls: type[TaskConfig], where: str) -> Param:
    types_ = field_types(config_cls)
    if name not in types_:
        raise unknown_key_error(name, config_cls, where)
    if name in ("seed", "smoke"):
        raise ConfigError(f"{where}: [{name}] cannot be tuned (each trial gets its own seed)")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{name}] must be a table with type = \"float\" | \"int\" | \"categorical\"")
    kind = table.get("type")
    if kind not in KINDS:
        raise ConfigError(f"{where}: [{name}] type must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = set(table) - {"type", "low", "high", "log", "step", "choices"}
    if unknown:
        raise ConfigError(f"{where}: [{name}] has unknown keys {sorted(unknown)}")
    if kind == "categorical":
        choices = table.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: [{name}] needs a non-empty list 'choices'")
        for choice in choices:  # each must be a valid value of the field
            convert(choice, types_[name], name)
        return Param(name, kind, choices=tuple(choices))
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
    return Param(name, kind, low, high, log, step)


def parse_space(data: dict[str, Any], config_cls: type[TaskConfig], where: str = "search space") -> Space:
    """Validate a search-space table against a task's config class.

    :raises ConfigError: an unknown field, a bad type, an empty or inverted range (the
        field is named).
    """
    study = data.get("study", {})
    if not isinstance(study, dict):
        raise ConfigError(f"{where}: [study] must be a table")
    params = tuple(_param(name, table, config_cls, where) for name, table in data.items() if name != "study")
    if not params:
        raise ConfigError(f"{where}: no parameters to tune")
    direction = study.get("direction", "")
    if direction not in ("", "maximize", "minimize"):
        raise ConfigError(f"{where}: [study] direction must be maximize or minimize, got {direction!r}")
    return Space(params, str(study.get("metric", "")), direction, where)


def load_space(path: str | Path | None, config_cls: type[TaskConfig], default_ref: str = "") -> Space:
    """Read ``--space FILE`` or, without it, the task's default space (``"package:file.toml"``).

    :raises ConfigError: no file and no default, or a bad space.
    """
    if path is not None:
        return parse_space(read_toml(path), config_cls, str(path))
    if not default_ref:
        raise ConfigError("this task ships no default search space: give one with --space FILE.toml")
    package, _, name = default_ref.partition(":")
    resource = resources.files(package) / name
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return parse_space(tomllib.loads(resource.read_text(encoding="utf-8")), config_cls, default_ref)


def fields_of(config_cls: type[TaskConfig]) -> list[str]:
    """Names of a config's fields (for messages)."""
    return [f.name for f in dataclasses.fields(config_cls)]
