"""Importing the packages that register environments, by who named them.

A module the user names on the command line (``--set env_module=PKG``, ``--data PKG:Id``)
is imported as asked. A module named only by a run directory (its ``agent.json``, config
or data entry) is code chosen by whoever wrote that folder: it is imported only when it
belongs to an installed distribution, and then with the current directory taken off
``sys.path``, so a ``PKG.py`` planted next to a downloaded run never runs.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from mltasks.errors import DataError


def import_user_module(name: str) -> None:
    """Import a module the user named (``--set env_module=PKG``); DataError when it cannot be imported."""
    if not name:
        return
    try:
        importlib.import_module(name)
    except ImportError as exc:
        raise DataError(f"env_module {name!r}: cannot import it ({exc})") from None


def installed_top_level(name: str) -> bool:
    """Whether ``name``'s top-level package belongs to an installed distribution (pip, editable or not)."""
    from importlib.metadata import packages_distributions

    return name.split(".")[0] in packages_distributions()


def import_run_module(name: str, source: str) -> None:
    """Import a module named by a run directory, only from an installed distribution.

    :param source: what named it (a file of the run), for the error message.
    :raises DataError: the module is not an installed distribution's (or fails to import).
    """
    if not name or name in sys.modules:
        return
    if not name.replace(".", "").replace("_", "").isalnum() or not installed_top_level(name):
        raise DataError(
            f"{source}: names environment module {name!r}, which is not an installed package; mltasks does not "
            f"import a module named by a run directory. Pass it again yourself (mltasks predict RUN "
            f"--set env_module={name}) or install it (pip install ...)"
        )
    here = Path.cwd().resolve()
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if p not in ("", ".") and _resolved(p) != here]
    try:
        importlib.import_module(name)
    except ImportError as exc:
        raise DataError(f"{source}: environment module {name!r} cannot be imported ({exc})") from None
    finally:
        sys.path[:] = saved


def _resolved(path: str) -> Path | None:
    try:
        return Path(path).resolve()
    except OSError:
        return None
