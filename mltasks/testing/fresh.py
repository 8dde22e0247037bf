"""Training a task in a fresh Python process, for the kit's same-seed check.

A seed that reaches only the libraries already imported shows up here and nowhere else: in a
long test session torch is usually imported before a run starts, in a user's first ``mltasks
run`` it is not. The kit's second training therefore runs in a new interpreter (same class,
same config, same sample data) and its metrics must equal the first, in-process training's::

    python -m mltasks.testing.fresh MODULE QUALNAME CONFIG_JSON SOURCE   # prints the metrics as JSON
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: What the child prints before its JSON line, so library chatter on stdout cannot confuse the parent.
MARK = "MLTASKS-FRESH-METRICS:"


class NotImportable(Exception):
    """The task class cannot be imported by name in a new process (defined in a test module)."""


def fresh_process_metrics(cls: type, config: Any, source: Any, timeout: float = 900) -> dict[str, float]:
    """Train ``cls(config)`` on ``source`` in a new interpreter, as the kit's first training did, and
    return the metrics of the split the runner scores.

    :raises NotImportable: the class is not importable by its module name in a new process.
    :raises AssertionError: the child failed (its stderr tail is in the message).
    """
    from mltasks.config import to_dict

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    args = [sys.executable, "-m", "mltasks.testing.fresh", cls.__module__, cls.__qualname__,
            json.dumps(to_dict(config)), json.dumps(None if source is None else str(source))]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode == 3:
        raise NotImportable(done.stderr.strip()[-300:])
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    assert done.returncode == 0 and lines, f"training in a fresh process failed: {done.stderr.strip()[-800:]}"
    return json.loads(lines[-1][len(MARK):])


def _main(module: str, qualname: str, config_json: str, source_json: str) -> int:
    import importlib

    from mltasks.config import resolve
    from mltasks.seeding import seed_everything, set_threads
    from mltasks.testing.state import train_as_the_runner_does

    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        print(f"{module}:{qualname} is not importable here: {exc}", file=sys.stderr)
        return 3
    config = resolve(cls.Config, json.loads(config_json))
    source = json.loads(source_json)
    task = cls(config)
    set_threads(1)
    seed_everything(config.seed)
    splits = task.load_data(source)
    seed_everything(config.seed)
    with tempfile.TemporaryDirectory(prefix="mltasks-fresh-") as tmp:
        train_as_the_runner_does(task, splits, Path(tmp))
    test, _ = splits.scored()
    metrics = {str(k): float(v) for k, v in dict(task.evaluate(test)).items()}
    print(MARK + json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:5]))
