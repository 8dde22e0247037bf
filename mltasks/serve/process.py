"""The model in a process of its own: ``mltasks serve``'s default.

A model whose ``predict`` is Python code (TF-IDF's tokenizer, a scikit-learn pipeline, a
tree ensemble) holds the GIL while it runs, so in the server's process it and the event
loop take turns: requests are neither read nor answered while a batch runs. In a child
process (LitServe's inference workers) the two run at the same time on two cores; the
server process keeps only what the task declares and the run's ``/v1/info``.

The child reads the machine user's predict options (``mltasks serve --set``) from the pipe,
loads the run with :meth:`Predictor.load` and checks the options there (so a bad run or a bad
option fails as it does in-process), then answers ``predict_batch``, ``warm_up`` and
``set_defaults`` calls over two pipes, one at a time (the batcher's single thread sends
them). It ignores SIGINT and SIGTERM: the server decides when to stop (after draining its
requests) and closes the pipes; a server that dies closes them too. Only Python objects the
two processes make cross the pipe (the run's files are read by the child alone, as
``mltasks.load_run`` reads them).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from mltasks.errors import MltasksError
from mltasks.serve.failures import HTTPFailure
from mltasks.serve.predictor import Call, Predictor

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

logger = logging.getLogger("mltasks.serve")
_CALLS = ("predict_batch", "warm_up", "set_defaults")


class ModelProcessError(RuntimeError):
    """The model process raised something that does not cross a process boundary, or died.

    :param type_name: the original exception's type (the 500 answer names it).
    """

    def __init__(self, message: str, type_name: str = "ModelProcessError") -> None:
        super().__init__(message)
        self.type_name = type_name

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.type_name))


class ModelProcess:
    """A child process (``python -m mltasks.serve.process``) holding the run's loaded task.

    A fresh interpreter started with :mod:`subprocess`, not :mod:`multiprocessing`: it does not
    import the caller's ``__main__`` again (a script that builds the app at its top level would
    start a server in the child), and it inherits no threads or locks.

    :param run_dir: the run directory.
    :param max_batch: inputs per ``predict`` call.
    :param options: the machine user's predict options (``mltasks serve --set``), sent to the child
        through the pipe and checked there (:meth:`Predictor.set_defaults`).
    :raises MltasksError: the run cannot be loaded or an option is refused (the child's error, as
        raised there).
    """

    def __init__(self, run_dir: str | Path, max_batch: int, options: Mapping[str, Any] | None = None) -> None:
        child_reads, parent_writes = os.pipe()
        parent_reads, child_writes = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "mltasks.serve.process", str(run_dir), str(max_batch), str(child_reads),
             str(child_writes)], pass_fds=(child_reads, child_writes))
        os.close(child_reads)
        os.close(child_writes)
        self._send = Connection(parent_writes, readable=False)
        self._receive = Connection(parent_reads, writable=False)
        self._lock = threading.Lock()
        try:
            self._send.send(dict(options or {}))  # the child reads them before it loads the run
            kind, payload = self._receive.recv()
        except (EOFError, OSError):
            self.close()
            raise ModelProcessError(f"the model process exited while loading {run_dir} "
                                    f"(exit status {self._process.returncode})") from None
        if kind != "ready":
            self.close()
            raise payload
        self.declared: dict[str, Any] = payload[0]
        self.info: dict[str, Any] = payload[1]
        self.defaults: dict[str, Any] = payload[2]

    @property
    def alive(self) -> bool:
        """Whether the child still runs."""
        return self._process.poll() is None

    def call(self, method: str, *args: Any) -> Any:
        """Run ``Predictor.<method>(*args)`` in the child and return (or raise) its outcome."""
        with self._lock:
            try:
                self._send.send((method, args))
                kind, payload = self._receive.recv()
            except (EOFError, OSError) as exc:
                status = self._process.poll()
                raise ModelProcessError(f"the model process exited (exit status {status}; "
                                        f"{type(exc).__name__}); restart the server") from None
        if kind == "raised":
            raise payload
        return payload

    def close(self, timeout: float = 10.0) -> None:
        """Close the pipe (the child then exits), wait ``timeout`` seconds, then kill it."""
        for conn in (self._send, self._receive):
            if not conn.closed:
                conn.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@dataclass
class RemotePredictor(Predictor):
    """A :class:`Predictor` whose task runs in a :class:`ModelProcess`; this process keeps what the
    task declares (``input_kind``, ``input_suffixes``, ``predict_options``, ``batchable``) and
    the run's facts, everything the request side reads."""

    process: ModelProcess | None = None

    @classmethod
    def spawn(cls, run_dir: str | Path, *, max_batch: int = 32,
              options: Mapping[str, Any] | None = None) -> RemotePredictor:
        """Start the model process and wait until it has loaded the run and taken ``options``
        (:meth:`Predictor.set_defaults`, in the child).

        :raises MltasksError: the run cannot be loaded, or an option is unknown or has a bad value.
        """
        process = ModelProcess(run_dir, max_batch, options)
        predictor = cls(Path(run_dir), SimpleNamespace(**process.declared), max_batch=max_batch, process=process)
        predictor.info = dict(process.info)
        predictor.defaults = dict(process.defaults)
        return predictor

    def set_defaults(self, options: Mapping[str, Any]) -> None:
        """:meth:`Predictor.set_defaults` in the model process (its warm-up uses them), then here
        (requests are merged with them here)."""
        assert self.process is not None
        self.defaults, self.info = self.process.call("set_defaults", dict(options))

    @property
    def alive(self) -> bool:
        """Whether the model process still runs."""
        return self.process is not None and self.process.alive

    def predict_batch(self, calls: Sequence[Call]) -> list[list[dict[str, Any]] | BaseException]:
        """:meth:`Predictor.predict_batch`, in the model process."""
        assert self.process is not None
        return list(self.process.call("predict_batch", list(calls), self.max_batch))

    def warm_up(self) -> None:
        """:meth:`Predictor.warm_up`, in the model process."""
        assert self.process is not None
        self.process.call("warm_up")

    def close(self) -> None:
        """Stop the model process."""
        if self.process is not None:
            self.process.close()


def _child(run_dir: str, max_batch: int, receive: Connection, send: Connection) -> None:
    """The model process: read the start-up options, load, say ready, answer calls until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the server drains first, then closes the pipe
    try:
        options = receive.recv()
    except (EOFError, OSError):
        return
    try:
        predictor = Predictor.load(run_dir, max_batch=max_batch, options=options)
    except BaseException as exc:  # noqa: BLE001 - reported to the server, which exits 2 or 1
        send.send(("failed", _portable(exc)))
        return
    task = predictor.task
    declared = {"name": str(getattr(task, "name", "") or ""), "input_kind": predictor.input_kind,
                "input_suffixes": tuple(predictor.input_suffixes),
                "predict_options": dict(getattr(task, "predict_options", {}) or {}),
                "batchable": getattr(task, "batchable", None), "thread_safe": bool(getattr(task, "thread_safe", False))}
    send.send(("ready", (declared, predictor.info, predictor.defaults)))
    while True:
        try:
            method, args = receive.recv()
        except (EOFError, OSError):
            return
        if method not in _CALLS:
            return
        try:
            if method == "predict_batch":
                calls, predictor.max_batch = args
                result: Any = [_portable(r) if isinstance(r, BaseException) else r
                               for r in predictor.predict_batch(calls)]
            elif method == "set_defaults":
                predictor.set_defaults(args[0])
                result = (predictor.defaults, predictor.info)
            else:
                predictor.warm_up()
                result = None
            send.send(("ok", result))
        except Exception as exc:
            send.send(("raised", _portable(exc)))


def _portable(exc: BaseException) -> BaseException:
    """``exc`` as it can cross the pipe: an HTTP failure as it is (it pickles by status, message and
    headers), one of :mod:`mltasks.errors` as it is, a plugin's own user error as a plain
    :class:`MltasksError` with its message (its constructor is the plugin's), anything else as a
    :class:`ModelProcessError` naming its type, with the traceback logged here."""
    if isinstance(exc, HTTPFailure) or (isinstance(exc, MltasksError)
                                         and type(exc).__module__ == MltasksError.__module__):
        return exc
    if isinstance(exc, MltasksError):
        return MltasksError(str(exc))
    logger.error("unexpected %s in the model process", type(exc).__name__, exc_info=exc)
    return ModelProcessError(f"{type(exc).__name__}: {exc}", type(exc).__name__)


if __name__ == "__main__":  # python -m mltasks.serve.process RUN_DIR MAX_BATCH READ_FD WRITE_FD
    from mltasks.serve.process import _child as child  # this module's names, not __main__'s: they are pickled

    logging.basicConfig(format="%(levelname)s:     [model] %(message)s", level=logging.INFO)
    child(sys.argv[1], int(sys.argv[2]), Connection(int(sys.argv[3]), writable=False),
          Connection(int(sys.argv[4]), readable=False))
