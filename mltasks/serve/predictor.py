"""The loaded model of one run and everything ``POST /v1/predict`` does around ``task.predict``.

It reads what the task declares (``input_kind``, ``input_suffixes``, ``predict_options``),
checks the client's inputs and options against it, cuts a request into jobs of at most
``max_batch`` inputs for the batcher, runs the jobs it hands over as one ``predict`` call
and splits the records back per request (:meth:`Predictor.predict_batch`), and turns the
records into JSON: uploaded files' private paths become their original names again, and files the
task wrote into the request's temp dir (an RL episode GIF) become data URLs.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import mimetypes
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mltasks.errors import ConfigError, MltasksError, RunDirectoryError
from mltasks.predict_options import PredictOption, check, declared
from mltasks.serve.failures import ClientError

INPUT_KINDS = ("text", "file", "row", "id", "none")
logger = logging.getLogger("mltasks.serve")


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, read as a run file (regular, inside the run, capped); ``{}`` when
    the file is absent (an older run)."""
    from mltasks.runfiles import read_optional_json

    value = read_optional_json(path, root=path.parent, expect=dict)
    return {} if value is None else value


@dataclass
class Predictor:
    """A run's trained task plus the facts ``/v1/info`` shows.

    :param run_dir: the finished run directory.
    :param task: the task loaded with :func:`mltasks.load_run`.
    :param max_batch: inputs per ``predict`` call.
    :param defaults: the machine user's predict options (``mltasks serve --set``), checked and
        converted (:meth:`set_defaults`): every request gets them, a request's own options override
        the client's ones.
    """

    run_dir: Path
    task: Any
    max_batch: int = 64
    info: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    defaults: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: str | Path, *, max_batch: int = 64,
             options: Mapping[str, Any] | None = None) -> Predictor:
        """Load and check a run directory (a bad one raises :class:`~mltasks.errors.MltasksError`).

        :param options: the machine user's predict options (``mltasks serve --set``), as values or
            as text; see :meth:`set_defaults`.
        :raises ConfigError: an unknown option or a bad value among ``options``.
        """
        from mltasks import load_run

        run_dir = Path(run_dir)
        task = load_run(run_dir)  # as ``mltasks predict --set``: load first, options go to predict
        predictor = cls(run_dir, task, max_batch=max_batch)
        if predictor.input_kind not in INPUT_KINDS:
            raise RunDirectoryError(f"{type(task).__name__}.input_kind is {predictor.input_kind!r}; "
                                    f"serve knows {', '.join(INPUT_KINDS)}")
        predictor.set_defaults(options or {})
        return predictor

    def set_defaults(self, options: Mapping[str, Any]) -> None:
        """Take the machine user's predict options (``mltasks serve --set KEY=VALUE``) as every
        request's defaults, and show them in ``/v1/info``.

        The user may set any declared option, those a client may not (``remote=False``, RL's
        ``env_module``) included; a client still may not name those, and overrides only the
        client's own options. Options naming output files that serve chooses per request (RL's
        ``gif_path``) are refused: each request's file goes to its own folder and back in its answer.

        :raises ConfigError: an unknown option or a value that does not convert to its declared type.
        """
        checked = check(self.task, options)
        if self.writes_files:
            chosen = [name for name in checked if name.endswith("_path")]
            if chosen:
                raise ConfigError(f"predict option {chosen[0]!r}: serve chooses it for each request (a file in the "
                                  "request's own folder, sent back in its answer); it cannot be set at start-up")
        self.defaults = checked
        self.info = self._describe()

    # what the task declares ------------------------------------------------------------

    @property
    def input_kind(self) -> str:
        """text | file | row | id | none (the Task attribute; ``text`` for old plugins)."""
        return str(getattr(self.task, "input_kind", "text") or "text")

    @property
    def input_suffixes(self) -> list[str]:
        """Accepted upload suffixes, lower case with the dot; CSV for row tasks."""
        declared = [str(s).lower() for s in getattr(self.task, "input_suffixes", ()) or ()]
        suffixes = [s if s.startswith(".") else f".{s}" for s in declared]
        if self.input_kind == "row" and not suffixes:
            suffixes = [".csv"]
        return suffixes

    @property
    def client_options(self) -> dict[str, PredictOption]:
        """Options a client may set: the declared remote ones (:func:`mltasks.predict_options.declared`)."""
        return {k: spec for k, spec in declared(self.task).items() if spec.remote}

    @property
    def options(self) -> dict[str, str]:
        """Option name -> help text of :attr:`client_options` (what ``/v1/info`` lists)."""
        return {k: spec.help for k, spec in self.client_options.items()}

    @property
    def option_defaults(self) -> dict[str, Any]:
        """The start-up values (:attr:`defaults`) of the options a client may override, as JSON."""
        client = self.client_options
        return {k: _jsonable(v, None, {}) for k, v in self.defaults.items() if k in client}

    @property
    def server_options(self) -> list[str]:
        """The options set at start-up that a client may neither set nor override; their values
        (a module, a path on the server) are not shown."""
        client = self.client_options
        return sorted(k for k in self.defaults if k not in client)

    def _describe(self) -> dict[str, Any]:
        saved = read_json_file(self.run_dir / "config.json")
        run_info = read_json_file(self.run_dir / "run.json")
        metrics = read_json_file(self.run_dir / "metrics.json")
        name = str(saved.get("task") or getattr(self.task, "name", "") or type(self.task).__name__)
        return {
            "task": name,
            "run": self.run_dir.resolve().name,
            "plugin": _plugin(name),
            "data": run_info.get("data") or {"source": saved.get("data") or "default"},
            "metrics": metrics,
            "config": saved.get("config", {}),
            "primary_metric": _primary(self.task, metrics),
            "input_kind": self.input_kind,
            "input_suffixes": self.input_suffixes,
            "predict_options": self.options,
            "option_defaults": self.option_defaults,
            "server_options": self.server_options,
            "max_batch": self.max_batch,
        }

    # a request -------------------------------------------------------------------------

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """A request's effective options: the start-up :attr:`defaults` overridden by the client's
        options, which are converted to their declared types (form fields are text, JSON values
        may be too) by :func:`mltasks.predict_options.check`; 422 for an option that is not among
        the client's ones (one set at start-up included) or a value of the wrong type."""
        try:
            return {**self.defaults, **check(self.client_options, options)}
        except ConfigError as exc:
            raise ClientError(422, str(exc)) from None

    def json_inputs(self, inputs: list[Any]) -> list[Any]:
        """Inputs of a JSON request in the form ``predict`` takes, per input kind."""
        kind = self.input_kind
        if kind == "file":
            raise ClientError(415, "this task predicts on files: upload them as multipart/form-data "
                                   f"(field 'files'; accepted: {', '.join(self.input_suffixes) or 'any file'})")
        if kind == "row":
            return [_row(item, i) for i, item in enumerate(inputs)]
        if kind == "id":
            for i, item in enumerate(inputs):
                if isinstance(item, (dict, list)) or item is None:
                    raise ClientError(422, f"inputs[{i}]: expected an id (a string or a number)")
            return [str(x) for x in inputs]
        return list(inputs)

    @property
    def writes_files(self) -> bool:
        """Whether the task takes server-chosen output paths (RL's ``gif_path``): each request then
        needs its own temp dir."""
        return any(key.endswith("_path") for key in declared(self.task))

    @property
    def batchable(self) -> bool:
        """Whether inputs of different requests may share one ``predict`` call.

        A task says so with a ``batchable`` class attribute; without one, every task whose
        ``predict`` maps inputs to records one by one may (``input_kind`` not ``none``: RL plays
        episodes) unless it writes server-chosen files (those belong to one request).
        """
        if self.writes_files:
            return False
        declared = getattr(self.task, "batchable", None)
        return self.input_kind != "none" if declared is None else bool(declared)

    def jobs(self, inputs: list[Any], options: dict[str, Any], workdir: Path | None,
             names: dict[str, str] | None = None) -> list[tuple[Call, int, str | None]]:
        """One request as the batcher's jobs, ``(call, size, key)``: chunks of at most
        ``max_batch`` inputs that may join other requests' chunks with the same options (the
        key); a task that cannot be batched gets one job that runs alone (key ``None``)."""
        if self.input_kind != "none" and not inputs:
            raise ClientError(422, "inputs: give at least one input")
        names = names or {}
        if not self.batchable:
            return [(Call(list(inputs), dict(options), workdir, names), max(1, len(inputs)), None)]
        key = json.dumps(options, sort_keys=True, default=str)
        return [(Call(inputs[i:i + self.max_batch], dict(options), workdir, names), len(inputs[i:i + self.max_batch]),
                 key) for i in range(0, len(inputs), self.max_batch)]

    def predict_batch(self, calls: Sequence[Call]) -> list[list[dict[str, Any]] | BaseException]:
        """Run jobs from :meth:`jobs` that share options as one ``task.predict`` call and split the
        records back per job (in the batcher's thread).

        When the records cannot be told apart (not one per input) or the shared call fails, each
        job runs alone, so one request's bad input fails that request only.

        :returns: per call, its JSON-ready records or the exception it raised.
        """
        if len(calls) == 1 or not self.batchable:
            return [self._alone(call) for call in calls]
        inputs = [x for call in calls for x in call.inputs]
        try:
            with self._guard():
                out = list(self.task.predict(inputs, **calls[0].options) or [])
        except Exception:  # whose input was it? each request on its own tells
            return [self._alone(call) for call in calls]
        if len(out) != len(inputs):
            logger.warning("%s.predict returned %d records for %d inputs; its batches are not split across "
                           "requests", type(self.task).__name__, len(out), len(inputs))
            return [self._alone(call) for call in calls]
        results: list[list[dict[str, Any]] | BaseException] = []
        start = 0
        for call in calls:
            mine = out[start:start + len(call.inputs)]
            start += len(call.inputs)
            results.append([_jsonable(r, call.workdir, call.names) for r in mine])
        return results

    def _alone(self, call: Call) -> list[dict[str, Any]] | BaseException:
        try:
            return self.predict(call.inputs, call.options, call.workdir, call.names)
        except Exception as exc:
            return exc

    def predict(self, inputs: list[Any], options: dict[str, Any], workdir: Path | None,
                names: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Run ``task.predict`` in batches of ``max_batch`` and return JSON-ready records.

        :param workdir: the request's private temp dir (server-chosen output paths go there);
            ``None`` when the request has no files and the task writes none.
        :param names: private upload path -> the client's file name, to put back in the records.
        """
        options = dict(options)
        if self.writes_files:
            if workdir is None:
                raise ValueError(f"{type(self.task).__name__} writes files: predict needs the request's workdir")
            options.update(_output_paths(self.task, workdir))
        if self.input_kind != "none" and not inputs:
            raise ClientError(422, "inputs: give at least one input")
        batches = [inputs[i:i + self.max_batch] for i in range(0, len(inputs), self.max_batch)] or [[]]
        records: list[dict[str, Any]] = []
        for batch in batches:
            try:
                with self._guard():
                    out = self.task.predict(batch or None, **options)
            except MltasksError as exc:  # name the client's files, not their private copies
                raise ClientError(400, _public_message(str(exc), workdir, names or {})) from None
            # now, before the next batch overwrites what this one wrote (the server-chosen paths)
            records += [_jsonable(r, workdir, names or {}) for r in out or []]
        return records

    def warm_up(self) -> None:
        """One ``predict`` on a made-up input of the task's kind (:mod:`mltasks.serve.warmup`), so
        the first request does not pay for lazy initialisation; a refusal of the made-up input
        (a ``DataError``) is fine: the model is loaded and its code ran."""
        import shutil
        import tempfile

        from mltasks.serve.warmup import warm_up_inputs

        workdir = Path(tempfile.mkdtemp(prefix="mltasks-warm-up-"))
        try:
            inputs = warm_up_inputs(self.input_kind, self.input_suffixes, workdir)
            if inputs is None:
                logger.info("no warm-up input for %s files; skipping the warm-up prediction", self.input_suffixes)
                return
            options = dict(self.defaults)  # the start-up options (RL's env_module: the environment's module)
            if self.input_kind == "none" and "episodes" in declared(self.task):
                options["episodes"] = 1
            if options and self.writes_files:  # what they make the task write (RL's record=gif) goes here
                options.update(_output_paths(self.task, workdir))
            with self._guard():  # the task itself: no server-chosen output files (an RL GIF) without defaults
                self.task.predict(inputs or None, **options)
        except MltasksError as exc:
            logger.info("warm-up prediction refused its made-up input (%s); the model is loaded", exc)
        except Exception as exc:  # the server still serves; the log says why the first request may fail
            logger.warning("warm-up prediction failed: %s: %s", type(exc).__name__, exc)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _guard(self) -> Any:
        if self.task.thread_safe:
            import contextlib

            return contextlib.nullcontext()
        return self.lock


@dataclass
class Call:
    """One request's inputs (or a chunk of them) on their way to ``task.predict``."""

    inputs: list[Any]
    options: dict[str, Any]
    workdir: Path | None
    names: dict[str, str]


def _output_paths(task: Any, workdir: Path) -> dict[str, str]:
    """The server-chosen output paths (RL's ``gif_path``), inside the request's own folder."""
    return {key: str(workdir / f"output.{key[: -len('_path')]}") for key in declared(task) if key.endswith("_path")}


def _row(item: Any, index: int) -> dict[str, Any]:
    """A row as the dict of column -> value ``predict`` takes; a string is never a (server) CSV path."""
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except json.JSONDecodeError:
            item = None
    if not isinstance(item, dict):
        raise ClientError(422, f"inputs[{index}]: a row is a JSON object of column -> value "
                               "(or upload a CSV file as multipart/form-data)")
    return item


def _plugin(task: str) -> dict[str, str]:
    try:
        from mltasks.plugins import registry

        entry = registry().get(task)
        return {"distribution": entry.distribution, "version": entry.version}
    except Exception:  # a task class run without registration: still servable
        return {"distribution": "", "version": ""}


def _primary(task: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    """What metrics.json records (mltasks.ranking); the task's declaration for a run without metrics."""
    from mltasks.ranking import declared, recorded

    ranking = recorded(metrics) or declared(task)
    return ranking.to_json()


def _jsonable(value: Any, workdir: Path | None, names: dict[str, str]) -> Any:
    """Plain JSON: numpy scalars and arrays unwrapped, NaN/inf as null, private paths hidden."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, workdir, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, workdir, names) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, Path)):
        return _public_path(str(value), workdir, names)
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _jsonable(value.tolist(), workdir, names)
    return str(value)


def _public_message(message: str, workdir: Path | None, names: dict[str, str]) -> str:
    for private, name in sorted(names.items(), key=lambda item: -len(item[0])):
        message = message.replace(private, name).replace(Path(private).name, name)
    if workdir is None:
        return message
    return message.replace(f"{workdir}/", "").replace(str(workdir), "")


def _public_path(text: str, workdir: Path | None, names: dict[str, str]) -> str:
    if text in names:
        return names[text]
    if workdir is None or not text.startswith(str(workdir)):
        return text
    path = Path(text)
    if path.is_file():  # something the task wrote for this request: send it back inline
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"
    return path.name

