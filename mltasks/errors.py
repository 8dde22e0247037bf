"""The exceptions mltasks raises, and that plugins raise for their users.

Every error a user can fix (bad data, bad config, an unknown task, a missing package)
is a :class:`MltasksError`; the CLI prints it as one ``Error: ...`` line and exits 2.
Anything else is a bug and exits 1 (with a traceback under ``--debug``).
"""

from __future__ import annotations


class MltasksError(Exception):
    """Base class of every error the user can act on (CLI exit status 2)."""


class DataError(MltasksError, ValueError):
    """The data source is missing, empty, unreadable or in a format the task does not accept.

    The message names the file (or folder) and the problem.
    """


class ConfigError(MltasksError, ValueError):
    """A configuration key is unknown, or a value has the wrong type or range."""


class UnknownTaskError(MltasksError, KeyError):
    """No installed plugin provides the requested task name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(MltasksError, ImportError):
    """A package the task needs is not installed.

    :param message: what is missing and why it is needed.
    :param pip: the requirement to install, e.g. ``"mltasks-speech"``; the message
        ends with the exact ``pip install`` command.
    """

    def __init__(self, message: str, pip: str | None = None) -> None:
        self.pip = pip
        if pip:
            message = f"{message} (install it with: pip install '{pip}')"
        super().__init__(message)


class NotTrainedError(MltasksError, RuntimeError):
    """``predict``, ``evaluate`` or ``save`` was called before ``train``."""


class PluginLoadError(MltasksError, RuntimeError):
    """A plugin's entry point failed to import or to register its tasks.

    :param entry_point: the entry point's name.
    :param distribution: the distribution that declares it.
    """

    def __init__(self, message: str, entry_point: str = "", distribution: str = "") -> None:
        self.entry_point = entry_point
        self.distribution = distribution
        super().__init__(message)


class TaskConflictError(MltasksError):
    """Two distributions registered the same task name; the name is unusable."""


class RunDirectoryError(MltasksError):
    """A run directory exists (and ``--force`` was not given), or is not a run."""


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (a container, systemd or a scheduler stopping the job).

    Raised by the CLI's signal handler so a run stops as it does on Ctrl-C (status
    ``interrupted``, resumable, tracking run ended KILLED); the CLI exits 143.
    """
