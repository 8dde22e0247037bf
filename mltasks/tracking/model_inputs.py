"""What an MLflow client sends, as the inputs and options ``mltasks predict`` would pass.

``mlflow.pyfunc.load_model(...).predict(data)`` and ``mlflow models serve`` hand the model a
pandas DataFrame, a NumPy array, a list, a dict or a string, depending on the caller and the
request format (``dataframe_split``, ``dataframe_records``, ``inputs``, ``instances``). The
model turns each into the list ``Task.predict`` takes, by the task's ``input_kind``:

- ``text``, ``file``, ``id``: one value per input (a list, a 1-D array, a one-column frame or
  the frame's ``input``/``text``/``path``/``id`` column); ids become text, as on the command line.
- ``row``: one dict per row (a frame's records, a list of dicts, one dict), or CSV paths.
- ``none``: no inputs (RL plays episodes).

Options come as MLflow ``params``, text as ``--set`` gives them, and are read as the command
line reads them (``3`` -> 3, ``true`` -> True).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: frame columns taken as the inputs when a frame has several
INPUT_COLUMNS = ("input", "inputs", "text", "path", "file", "id")


class InputError(ValueError):
    """The model input cannot be read as this task's inputs."""


def _plain(value: Any) -> Any:
    """A NumPy scalar (or array) as the Python value it holds."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _frame_values(frame: Any, kind: str) -> list[Any]:
    if kind == "row":
        return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    columns = [str(c) for c in frame.columns]
    if len(columns) == 1:
        return [_plain(v) for v in frame.iloc[:, 0].tolist()]
    for name in INPUT_COLUMNS:
        if name in columns:
            return [_plain(v) for v in frame[name].tolist()]
    raise InputError(f"{len(columns)} columns ({', '.join(columns)}): give one column of inputs, "
                     f"or name it one of {', '.join(INPUT_COLUMNS)}")


def as_inputs(model_input: Any, kind: str) -> list[Any] | None:
    """``model_input`` as ``Task.predict``'s inputs for a task of ``input_kind`` ``kind``;
    None when there are none (what ``mltasks predict RUN`` passes without inputs)."""
    data = model_input
    if data is None:
        return None
    if type(data).__name__ == "DataFrame":
        values = _frame_values(data, kind)
    elif type(data).__name__ == "Series":
        values = [_plain(v) for v in data.tolist()]
    elif hasattr(data, "tolist") and not isinstance(data, (str, bytes)):  # a NumPy array
        flat = data.tolist()
        values = flat if isinstance(flat, list) else [flat]
        if values and all(isinstance(v, list) and len(v) == 1 for v in values):  # a (N, 1) column
            values = [v[0] for v in values]
    elif isinstance(data, Mapping):
        if "inputs" in data and len(data) == 1:
            return as_inputs(data["inputs"], kind)
        if kind != "row":
            raise InputError(f"a mapping ({', '.join(map(str, data))}) is a row; this task takes "
                             f"{kind} inputs")
        values = [dict(data)]
    elif isinstance(data, (str, bytes)):
        values = [data.decode() if isinstance(data, bytes) else data]
    elif isinstance(data, (list, tuple)):
        values = [_plain(v) for v in data]
    else:
        raise InputError(f"cannot read a {type(data).__name__} as inputs")
    if kind == "id":
        values = [str(v) for v in values]
    if kind == "none" or not values:
        return None
    return values


def as_options(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """MLflow ``params`` as ``predict`` options, read as ``mltasks predict --set`` reads them
    (unset params, None, are left out: the task's defaults apply)."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[str(key)] = value  # text, converted to the declared type by the task's checked predict
    return out
