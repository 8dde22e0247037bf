"""Importing the packages that register environments: only the ones the user names.

A module the user names on the command line (``--set env_module=PKG``, ``--data PKG:Id`` at
training time) is imported as asked. A module named by a run directory (its ``agent.json``,
config or data entry) is never imported, installed or not: importing runs code chosen by
whoever wrote that folder (``flask.__main__`` starts Flask's CLI, a ``PKG.py`` planted beside
a downloaded run runs as it is imported). A loaded run whose environment needs a module
asks the user to name it again (:func:`run_module_refused`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

from mltasks.errors import DataError

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_module_name(name: str, source: str = "env_module") -> None:
    """Refuse a name that is not a dotted Python module name, or that names a ``__main__``
    module (a program run on import, never a package that registers environments).

    :param source: what named it (an option, a file of the run), for the error message.
    :raises DataError: naming ``source`` and the module.
    """
    if not _DOTTED.fullmatch(name):
        raise DataError(f"{source}: {name!r} is not a Python module name")
    if "__main__" in name.split("."):
        raise DataError(f"{source}: {name!r} is a program's __main__ module, not a package that registers "
                        "environments; mltasks never imports one")


def import_user_module(name: str) -> None:
    """Import a module the user named (``--set env_module=PKG``); DataError when it cannot be imported."""
    if not name:
        return
    check_module_name(name)
    try:
        importlib.import_module(name)
    except ImportError as exc:
        raise DataError(f"env_module {name!r}: cannot import it ({exc})") from None


def only_user_module(user_module: str, source: str) -> Callable[[str], None]:
    """An importer for a loaded run: the user's own ``env_module`` is imported, any other
    module name raises :func:`run_module_refused`."""

    def importer(name: str) -> None:
        if name != user_module:
            raise run_module_refused(name, source)
        import_user_module(name)

    return importer


def run_module_refused(name: str, source: str) -> DataError:
    """The error for a module that only a run directory names: say which, and how to name it
    (or, for a name :func:`check_module_name` refuses, why it never will be imported)."""
    try:
        check_module_name(name, source)
    except DataError as exc:
        return exc
    return DataError(f"{source}: the environment needs module {name!r}; a loaded run imports no module it names "
                     f"itself, only the one you name: if you trust it, pass --set env_module={name}")
