"""Predict options: what a task declares, and the one check every call of ``predict`` goes through.

A task declares its options as ``predict_options = {"top_k": PredictOption(int, "how many")}``;
a plain help string (``{"top_k": "how many"}``, older plugins) declares an option of type
:class:`~mltasks.params.Untyped`: text is read as bool, int, float or else text. :func:`check`
refuses unknown names and converts every value with :mod:`mltasks.params`, the converter
``--set`` uses for configs. :class:`~mltasks.Task` applies it to every ``predict`` call (the
method is wrapped when the subclass is defined), so ``mltasks predict --set``, ``serve``, an
MLflow model's params and a direct Python call all get the same names and types, and a task's
``predict`` receives known options with values of the declared types.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mltasks.errors import ConfigError
from mltasks.params import Untyped, convert, param_type, type_name


@dataclass(frozen=True)
class PredictOption:
    """One keyword option of :meth:`Task.predict <mltasks.Task.predict>`.

    :param type: a type hint as config fields take (``int``, ``float | None``,
        ``Literal["gif", "none"]``, ``tuple[str, ...]``); values given as text are converted to it.
    :param help: one line for ``mltasks info``-style listings, ``serve``'s ``/v1/info`` and the docs.
    :param remote: whether a remote client (a ``serve`` request) may set it; False for an option
        only the machine's user may give (a module to import, a path on the server). Left out, the
        name decides: ``*_path``, ``*_dir``, ``*_file`` and ``*_module`` stay on the server, so a
        plugin that forgets the flag does not hand clients its server paths.
    """

    type: Any
    help: str
    remote: bool | None = None

    @property
    def type_name(self) -> str:
        """The type's short name (``int``, ``choice``, ``auto`` for an untyped option)."""
        return type_name(self.type)


#: names an option declared without ``remote`` may not be set by a remote client under: a file,
#: folder or module on the server
_SERVER_SUFFIXES = ("_path", "_dir", "_file", "_module")


def declared(owner: Any) -> dict[str, PredictOption]:
    """The predict options of a task, a task class or a ``predict_options`` mapping, each as a
    :class:`PredictOption` whose ``remote`` is decided (a plain help string becomes an untyped
    one). Without ``remote``, an option whose name says it points at the server (``*_path``,
    ``*_dir``, ``*_file``, ``*_module``) is kept from remote clients.

    :raises TypeError: the declaration is not a mapping of names to help strings or PredictOptions.
    """
    table = owner if isinstance(owner, Mapping) else getattr(owner, "predict_options", None) or {}
    if not isinstance(table, Mapping):
        raise TypeError(f"predict_options must be a dict of name -> PredictOption, got {type(table).__name__}")
    out = {}
    for name, spec in table.items():
        if isinstance(spec, str):
            spec = PredictOption(Untyped, spec)
        elif not isinstance(spec, PredictOption):
            raise TypeError(f"predict_options[{name!r}] must be a PredictOption or a help string, "
                            f"got {type(spec).__name__}")
        if spec.remote is None:
            spec = dataclasses.replace(spec, remote=not str(name).endswith(_SERVER_SUFFIXES))
        out[str(name)] = spec
    return out


def help_texts(owner: Any, *, remote: bool = False) -> dict[str, str]:
    """Option name -> help text (what ``serve``'s ``/v1/info`` lists).

    :param remote: only the options a remote client may set.
    """
    return {name: spec.help for name, spec in declared(owner).items() if spec.remote or not remote}


def check(owner: Any, options: Mapping[str, Any], *, remote: bool = False) -> dict[str, Any]:
    """``options`` with every value converted to its declared type.

    :param owner: a task, a task class or a ``predict_options`` mapping.
    :param remote: refuse the options a remote client may not set (``PredictOption.remote``).
    :raises ConfigError: ``unknown predict option 'x'; valid: a, b`` for a name not declared, or
        ``predict option 'k': 'x' is not a valid int`` for a value of the wrong type.
    """
    table = declared(owner)
    valid = [name for name, spec in table.items() if spec.remote or not remote]
    out = {}
    for name, value in options.items():
        if name not in valid:
            listed = ", ".join(valid) or "none (this task takes no predict options)"
            raise ConfigError(f"unknown predict option {name!r}; valid: {listed}")
        out[name] = convert(value, table[name].type, name, what="predict option")
    return out


def check_declaration(owner: Any) -> None:
    """Refuse a malformed ``predict_options``: names that are not keywords, empty help texts,
    types :mod:`mltasks.params` cannot build (what the conformance kit checks).

    :raises TypeError: naming the option and what is wrong.
    """
    for name, spec in declared(owner).items():
        if not name.isidentifier():
            raise TypeError(f"predict_options key {name!r} is not a keyword name")
        if not (isinstance(spec.help, str) and spec.help.strip()):
            raise TypeError(f"predict_options[{name!r}] needs a help text")
        param_type(spec.type)


def checked_predict(predict: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a task's ``predict`` so that its options pass :func:`check` first (as scikit-learn's
    ``set_output`` wraps ``transform`` in ``__init_subclass__``). Applied by :class:`~mltasks.Task`
    to each subclass that defines ``predict``. Keywords that name a parameter of ``predict``
    itself (``inputs``) and are not declared options pass unchecked; converting twice (a
    ``super().predict`` call) is harmless, a value of the declared type comes back unchanged."""
    if getattr(predict, "__mltasks_checked__", False):
        return predict
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    own = {n for n, p in list(inspect.signature(predict).parameters.items())[1:] if p.kind in kinds}

    @functools.wraps(predict)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            table = declared(self)
            options = {k: v for k, v in kwargs.items() if k in table or k not in own}
            if options:
                kwargs = {**kwargs, **check(table, options)}
        return predict(self, *args, **kwargs)

    wrapper.__mltasks_checked__ = True  # type: ignore[attr-defined]
    return wrapper
