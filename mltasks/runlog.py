"""A run's ``run.log``: the mltasks logger and Python warnings, copied to the run folder while it runs."""

from __future__ import annotations

import logging
from pathlib import Path

_LOGGERS = ("mltasks", "py.warnings")


def open_run_log(path: Path) -> logging.Handler:
    """Start copying the mltasks log and Python warnings to ``path``; returns the handler to close."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("mltasks")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").addHandler(handler)
    return handler


def close_run_log(handler: logging.Handler) -> None:
    """Detach the run log from every logger it was added to (the next run has its own)."""
    for name in _LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    logging.captureWarnings(False)
    handler.close()
