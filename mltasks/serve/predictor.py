"""The loaded model of one run and everything ``POST /v1/predict`` does around ``task.predict``.

It reads what the task declares (``input_kind``, ``input_suffixes``, ``predict_options``),
checks the client's inputs and options against it, calls ``predict`` in batches of at most
``max_batch`` (under a lock unless the task says it is thread-safe), and turns the records
into JSON: uploaded files' private paths become their original names again, and files the
task wrote into the request's temp dir (an RL episode GIF) become data URLs.
"""

from __future__ import annotations

import base64
import json
import math
import mimetypes
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mltasks.errors import MltasksError, RunDirectoryError
from mltasks.serve.failures import ClientError

INPUT_KINDS = ("text", "file", "row", "id", "none")


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; ``{}`` when the file is absent (an older run)."""
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirectoryError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise RunDirectoryError(f"{path}: expected a JSON object")
    return value


@dataclass
class Predictor:
    """A run's trained task plus the facts ``/v1/info`` shows.

    :param run_dir: the finished run directory.
    :param task: the task loaded with :func:`mltasks.load_run`.
    :param max_batch: inputs per ``predict`` call.
    """

    run_dir: Path
    task: Any
    max_batch: int = 64
    info: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, run_dir: str | Path, *, max_batch: int = 64) -> Predictor:
        """Load and check a run directory (a bad one raises :class:`~mltasks.errors.MltasksError`)."""
        from mltasks import load_run

        run_dir = Path(run_dir)
        task = load_run(run_dir)
        predictor = cls(run_dir, task, max_batch=max_batch)
        predictor.info = predictor._describe()
        if predictor.input_kind not in INPUT_KINDS:
            raise RunDirectoryError(f"{type(task).__name__}.input_kind is {predictor.input_kind!r}; "
                                    f"serve knows {', '.join(INPUT_KINDS)}")
        return predictor

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
    def options(self) -> dict[str, str]:
        """Options a client may set: the declared ones minus the paths the server chooses."""
        declared = dict(getattr(self.task, "predict_options", {}) or {})
        return {k: str(v) for k, v in declared.items() if not _server_only(k)}

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
            "max_batch": self.max_batch,
        }

    # a request -------------------------------------------------------------------------

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The client's options, refused (422) when one is not among the valid ones."""
        valid = self.options
        unknown = sorted(set(options) - set(valid))
        if unknown:
            names = ", ".join(sorted(valid)) or "none (this task takes no options)"
            raise ClientError(422, f"unknown predict option(s) {', '.join(map(repr, unknown))}; "
                                   f"valid options: {names}")
        return dict(options)

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

    def predict(self, inputs: list[Any], options: dict[str, Any], workdir: Path,
                names: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Run ``task.predict`` in batches and return JSON-ready records.

        :param workdir: the request's private temp dir (server-chosen output paths go there).
        :param names: private upload path -> the client's file name, to put back in the records.
        """
        options = dict(options)
        for key in getattr(self.task, "predict_options", {}) or {}:
            if key.endswith("_path"):  # e.g. RL's gif_path: the server picks it, inside the request's dir
                options[key] = str(workdir / f"output.{key[: -len('_path')]}")
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

    def _guard(self) -> Any:
        if self.task.thread_safe:
            import contextlib

            return contextlib.nullcontext()
        return self.lock


def _server_only(option: str) -> bool:
    """Options naming a file, folder or module on the server are never the client's to choose:
    a client could read or write server files, or import code (RL's ``env_module``)."""
    return option.endswith(("_path", "_dir", "_file", "_module"))


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
    saved = metrics.get("primary_metric")
    if isinstance(saved, dict) and saved.get("name"):
        return {"name": str(saved["name"]), "greater_is_better": bool(saved.get("greater_is_better", True))}
    name = str(getattr(task, "primary_metric", "") or next(iter(metrics.get("metrics") or {}), ""))
    return {"name": name, "greater_is_better": bool(getattr(task, "greater_is_better", True))}


def _jsonable(value: Any, workdir: Path, names: dict[str, str]) -> Any:
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


def _public_message(message: str, workdir: Path, names: dict[str, str]) -> str:
    for private, name in sorted(names.items(), key=lambda item: -len(item[0])):
        message = message.replace(private, name).replace(Path(private).name, name)
    return message.replace(f"{workdir}/", "").replace(str(workdir), "")


def _public_path(text: str, workdir: Path, names: dict[str, str]) -> str:
    if text in names:
        return names[text]
    if not text.startswith(str(workdir)):
        return text
    path = Path(text)
    if path.is_file():  # something the task wrote for this request: send it back inline
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"
    return path.name

