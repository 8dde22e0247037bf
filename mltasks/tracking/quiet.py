"""Keep MLflow's console chatter out of ours: its banners and INFO lines go to our log at debug.

MLflow prints "🏃 View run ... at: ..." and "🧪 View experiment at: ..." to stdout when a run
ends on a tracking server and "Successfully registered model ..." to stderr, logs "Creating
initial MLflow database tables..." at INFO on its own stderr handler, and raises ``UserWarning``s
about signatures and input examples while a model is logged. Inside :func:`quiet` all of that
is logged to the ``mltasks.tracking`` logger at debug instead; MLflow's warnings and errors in
its own log still reach the console as before.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator

logger = logging.getLogger("mltasks.tracking")

#: MLflow's own loggers (each with its own console handler, not propagating)
MLFLOW_LOGGERS = ("mlflow", "alembic")
#: no "Downloading artifacts" bars while a run's folder is copied into its model (unless the user asks)
QUIET_ENV = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


class _Demote(logging.Handler):
    """INFO and below to our debug log; WARNING and above to the handlers the logger had."""

    def __init__(self, original: list[logging.Handler]) -> None:
        super().__init__()
        self.original = original

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            for handler in self.original:
                if record.levelno >= handler.level:
                    handler.handle(record)
            return
        logger.debug("%s: %s", record.name, record.getMessage())


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Within the block, MLflow's prints, INFO log lines and Python warnings go to our debug log."""
    saved = []
    for name in MLFLOW_LOGGERS:
        target = logging.getLogger(name)
        saved.append((target, target.handlers))
        target.handlers = [_Demote(list(target.handlers))]
    added = {k: v for k, v in QUIET_ENV.items() if k not in os.environ}
    os.environ.update(added)
    printed = io.StringIO()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed), \
                contextlib.redirect_stderr(printed):
            warnings.simplefilter("always")
            yield
    finally:
        for target, handlers in saved:
            target.handlers = handlers
        for key in added:
            os.environ.pop(key, None)
        for line in printed.getvalue().splitlines():
            if line.strip():
                logger.debug("mlflow printed: %s", line)
        for warning in caught or ():
            logger.debug("mlflow warned: %s", warning.message)
