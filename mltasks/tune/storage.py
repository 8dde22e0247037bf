"""Where a study lives: a journal file in the study folder by default, or a database that
workers on several machines share (``sqlite:///study.db``, ``postgresql://user@host/db``)."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

from mltasks.errors import ConfigError, MissingDependencyError

# Workers on a database send a heartbeat; a trial whose worker died (kill -9, a lost machine)
# is marked failed after GRACE_FACTOR missed beats, so the study neither waits for it forever
# nor loses its slot. MLTASKS_TUNE_HEARTBEAT_S shortens the beat for tests.
DEFAULT_HEARTBEAT_S = 10
GRACE_FACTOR = 3
_POSTGRES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def optuna_module() -> Any:
    """Optuna, imported on first use, with its per-trial log lines silenced (the study folder has them).

    :raises MissingDependencyError: optuna is not installed.
    """
    try:
        import optuna
    except ImportError as exc:
        raise MissingDependencyError("mltasks tune needs optuna", pip="mltasks[tune]") from exc
    # ERROR, not WARNING: optuna logs a failed (e.g. interrupted) trial with its traceback as a warning
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


def storage_url(storage: str | None, study_dir: Path) -> str:
    """The storage to use: the user's (PostgreSQL URLs use psycopg 3), else a journal in the study folder.

    :raises MissingDependencyError: a PostgreSQL URL without psycopg installed.
    :raises ConfigError: a URL scheme Optuna cannot use.
    """
    if not storage:
        return f"journal:{study_dir / 'study.journal'}"
    if storage.startswith(_POSTGRES):
        try:
            import psycopg  # noqa: F401 - only checks that the driver is there
        except ImportError as exc:
            raise MissingDependencyError("--storage postgresql://... needs psycopg 3",
                                         pip="psycopg[binary]") from exc
        return "postgresql+psycopg://" + storage.split("://", 1)[1]
    if storage.startswith("journal:") or "://" in storage:
        return storage
    raise ConfigError(f"--storage {storage!r}: expected sqlite:///FILE.db, postgresql://USER@HOST/DB, "
                      "journal:FILE or another SQLAlchemy URL")


def is_database(url: str) -> bool:
    """Whether the storage is a database (heartbeats, several machines)."""
    return not url.startswith("journal:")


def shown(url: str) -> str:
    """The URL without its password, for messages and the study folder."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}" if user else f"{scheme}://{host}"
    return url


def heartbeat_s() -> int:
    """Seconds between a database worker's heartbeats."""
    try:
        return max(1, int(os.environ.get("MLTASKS_TUNE_HEARTBEAT_S", DEFAULT_HEARTBEAT_S)))
    except ValueError:
        raise ConfigError("MLTASKS_TUNE_HEARTBEAT_S must be a whole number of seconds") from None


def _creation_race(exc: Exception) -> bool:
    """A database error other than a bad URL or a refused connection (e.g. a duplicate table)."""
    from sqlalchemy import exc as sa

    return isinstance(exc, sa.DBAPIError) and not isinstance(exc, sa.OperationalError)


def make_storage(url: str) -> Any:
    """An Optuna storage from ``journal:FILE`` or an SQLAlchemy URL.

    :raises ConfigError: the database cannot be reached or the URL is malformed (the URL is named,
        without its password).
    """
    optuna = optuna_module()
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(url[len("journal:"):]))
    beat = heartbeat_s()
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna, and what a shared study needs
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, heartbeat_interval=beat, grace_period=GRACE_FACTOR * beat)
        except ImportError as exc:
            raise MissingDependencyError(f"--storage {shown(url)}: {exc}") from None
        except Exception as exc:  # SQLAlchemy's errors: a bad URL, a refused connection, a missing database
            error = exc
            if not _creation_race(exc):
                break
            time.sleep(1.0 + attempt)  # workers started together race to create the tables: retry
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise ConfigError(f"--storage {shown(url)}: cannot open the study storage ({first})")
