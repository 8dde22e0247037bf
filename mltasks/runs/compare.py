"""Compare runs of one task from their JSON files (``mltasks compare``).

What differs in the config, the final metrics side by side with their difference to the
first run, whether the data was the same (sha256), which versions differ, and the
learning curves of runs that kept a training history, overlaid in one PNG.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mltasks.errors import ConfigError, RunDirectoryError
from mltasks.ranking import best_index, recorded
from mltasks.runfiles import read_run_json
from mltasks.runs.table import number, signed, text_table

HISTORY_FILE = "history.json"


def resolve_run(name: str | Path, root: Path = Path("runs")) -> Path:
    """The run directory ``name`` names: a path, or a run's name under ``root``.

    :raises RunDirectoryError: neither exists, or the folder is not a run (no ``run.json``).
    """
    path = Path(name)
    if not path.is_dir() and (root / path).is_dir():
        path = root / path
    if not path.is_dir():
        raise RunDirectoryError(f"{name}: no such run directory (nor {root / path})")
    if not (path / "run.json").is_file():
        raise RunDirectoryError(f"{path}: not a run directory (no run.json)")
    return path


def _read(path: Path, *, required: bool) -> Any:
    if not required and not path.exists() and not path.is_symlink():
        return None
    return read_run_json(path, root=path.parent)


def read_history(run_dir: Path, info: Mapping[str, Any] | None = None) -> list[dict[str, float]]:
    """The per-epoch rows a run kept: ``history.json`` (a list of rows, or ``{"history": [...]}``),
    else ``run.json["history"]``; empty when the run has none."""
    data = _read(run_dir / HISTORY_FILE, required=False)
    if isinstance(data, Mapping):
        data = data.get("history")
    if data is None and info is not None:
        data = info.get("history")
    if not isinstance(data, list):
        return []
    return [dict(row) for row in data if isinstance(row, Mapping)]


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def load_run_files(run_dir: Path) -> dict[str, Any]:
    """``config.json``, ``run.json``, ``metrics.json`` (absent for unfinished runs) and the history."""
    info = _read(run_dir / "run.json", required=True)
    config = _read(run_dir / "config.json", required=True)
    body = _read(run_dir / "metrics.json", required=False) or {}
    if not isinstance(info, dict) or not isinstance(config, dict):
        raise RunDirectoryError(f"{run_dir}: run.json and config.json must hold JSON objects")
    return {"path": run_dir, "info": info, "config": config, "metrics": body if isinstance(body, dict) else {},
            "history": read_history(run_dir, info)}


def _differing(columns: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    keys: list[str] = []
    for column in columns:
        keys += [k for k in column if k not in keys]
    missing = object()
    out = {}
    for key in keys:
        values = [column.get(key, missing) for column in columns]
        if any(v != values[0] for v in values[1:]):
            out[key] = [None if v is missing else v for v in values]
    return out


def _metric_rows(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    bodies = [r["metrics"] for r in runs]
    names: list[str] = []
    for body in bodies:
        names += [k for k in (body.get("metrics") or {}) if k not in names]
    primary = next((r for r in map(recorded, bodies) if r is not None), None)
    rows = []
    for name in names:
        values = [(b.get("metrics") or {}).get(name) for b in bodies]
        is_primary = primary is not None and primary.metric == name
        base = values[0]
        diffs = [None if i == 0 or v is None or base is None else v - base for i, v in enumerate(values)]
        # only the primary metric has a declared direction: the others are shown, not judged
        best = best_index(values, primary.greater_is_better) if is_primary and primary else None
        known = sum(v is not None for v in values)
        rows.append({"name": name, "values": values, "differences": diffs,
                     "greater_is_better": primary.greater_is_better if is_primary and primary else None,
                     "primary": is_primary,
                     "best": string.ascii_uppercase[best % 26] if best is not None else
                     ("tie" if is_primary and known > 1 else None)})
    return rows


def compare_runs(run_dirs: Sequence[str | Path], *, plot: str | Path | None = None,
                 root: Path = Path("runs")) -> dict[str, Any]:
    """Compare two or more runs of one task; write the overlaid learning curves to ``plot``.

    :returns: a JSON-ready dict: ``task``, ``runs`` (label, name, path, split, status),
        ``config`` and ``versions`` (only the keys that differ, one value per run),
        ``metrics`` (values, difference to the first run, best run), ``data`` (same sha256
        or not), ``scale`` (each run's ``world_size``, ``backend``, ``per_process_batch``: the same
        config run on 1 or N processes), ``plot`` (the PNG written, or None) and ``plot_note`` (why not).
    :raises ConfigError: fewer than two runs, or runs of different tasks.
    :raises RunDirectoryError: a run folder is missing or its JSON is broken.
    """
    if len(run_dirs) < 2:
        raise ConfigError("compare needs at least two run directories")
    if len(run_dirs) > 26:
        raise ConfigError(f"compare takes at most 26 runs, got {len(run_dirs)}")
    runs = [load_run_files(resolve_run(d, root)) for d in run_dirs]
    tasks = [str(r["info"].get("task") or r["config"].get("task") or "") for r in runs]
    if len(set(tasks)) > 1:
        listed = ", ".join(f"{r['path']} is {t or '?'}" for r, t in zip(runs, tasks))
        raise ConfigError(f"cannot compare runs of different tasks: {listed}")
    labels = string.ascii_uppercase[: len(runs)]
    configs = [flatten(r["config"].get("config") or {}) for r in runs]
    for config, r in zip(configs, runs):
        config["data"] = r["config"].get("data")
    datas = [r["info"].get("data") if isinstance(r["info"].get("data"), dict) else {} for r in runs]
    hashes = [d.get("sha256") for d in datas]
    result: dict[str, Any] = {
        "task": tasks[0],
        "runs": [{"label": lab, "name": r["path"].name, "path": str(r["path"]),
                  "split": r["metrics"].get("split", ""), "status": r["info"].get("status", ""),
                  "history": len(r["history"])} for lab, r in zip(labels, runs)],
        "config": _differing(configs),
        "metrics": _metric_rows(runs),
        "data": {"same": hashes[0] is not None and len(set(hashes)) == 1, "sha256": hashes,
                 "source": [d.get("source") for d in datas]},
        "versions": _differing([r["info"].get("versions") or {} for r in runs]),
        "scale": scale([r["info"] for r in runs]),
        "plot": None,
        "plot_note": "",
    }
    if plot is not None:
        lacking = [r["path"].name for r in runs if not r["history"]]
        from mltasks.runs.curves import overlaid_curves, plotted_metrics

        if lacking:
            result["plot_note"] = f"no learning-curve plot: no training history in {', '.join(lacking)}"
        elif not plotted_metrics([r["history"] for r in runs]):
            result["plot_note"] = "no learning-curve plot: no metric the runs share changes from step to step"
        else:
            result["plot"] = str(overlaid_curves(plot, [r["history"] for r in runs],
                                                 [f"{lab}: {r['path'].name}" for lab, r in zip(labels, runs)]))
    return result


#: how a run was spread over processes (run.json): shown beside the config, since it changes the run
SCALE_KEYS = ("world_size", "backend", "per_process_batch")


def scale(infos: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Each run's ``world_size``, torch ``backend`` and ``per_process_batch`` (None when not recorded)."""
    out: dict[str, list[Any]] = {key: [] for key in SCALE_KEYS}
    for info in infos:
        found = info.get("distributed")
        spread: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        out["world_size"].append(info.get("world_size"))
        out["backend"].append(spread.get("backend"))
        out["per_process_batch"].append(spread.get("per_process_batch"))
    return out


def _scale_lines(result: Mapping[str, Any], labels: Sequence[str]) -> list[str]:
    values = result.get("scale") or {}
    sizes = values.get("world_size") or []
    if not any(v is not None for v in sizes):
        return []
    if all(len(set(map(json.dumps, values[k]))) == 1 for k in values):
        size, backend = sizes[0], (values.get("backend") or [None])[0]
        batch = (values.get("per_process_batch") or [None])[0]
        detail = f" ({backend}, {batch} examples per process per step)" if backend and batch else ""
        return [f"Processes: same, {size}{detail}"]
    return ["Processes (differing)",
            text_table(["", *labels], [[key, *(_cell(v) for v in vals)] for key, vals in values.items()])]


def _cell(value: Any, width: int = 30) -> str:
    text = "-" if value is None else number(value) if isinstance(value, float) else json.dumps(value) \
        if isinstance(value, (list, dict, bool)) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def short_hash(value: Any) -> str:
    """A sha256 as its first 12 hex digits; other fingerprints ("embedded-default") whole."""
    text = str(value or "-")
    is_hex = len(text) == 64 and all(c in "0123456789abcdef" for c in text)
    return text[:12] if is_hex else text


def format_comparison(result: Mapping[str, Any]) -> str:
    """The text ``mltasks compare`` prints for a :func:`compare_runs` result."""
    runs = result["runs"]
    labels = [r["label"] for r in runs]
    out = [f"Comparing {len(runs)} runs of {result['task']}"]
    out.append(text_table(["", "run", "split", "status", "history"],
                          [[r["label"], r["path"], r["split"] or "-", r["status"], f"{r['history']} rows"]
                           for r in runs]))
    out.append("")
    if result["config"]:
        out.append("Config (differing keys)")
        out.append(text_table(["key", *labels], [[k, *(_cell(v) for v in vals)]
                                                  for k, vals in result["config"].items()]))
    else:
        out.append("Config: identical")
    out += _scale_lines(result, labels)
    out.append("")
    splits = {r["split"] for r in runs}
    title = f"Metrics ({', '.join(sorted(s for s in splits if s)) or '-'})"
    if len(splits) > 1:
        title += " - careful: the runs were scored on different splits"
    out.append(title)
    diff_heads = [f"{lab}-{labels[0]}" for lab in labels[1:]]
    rows = []
    for m in result["metrics"]:
        name = m["name"] + (" *" if m["primary"] else "")
        if m["greater_is_better"] is None:
            verdict = "-"
        else:
            arrow = "higher" if m["greater_is_better"] else "lower"
            verdict = f"{m['best'] or '-'} ({arrow} is better)"
        rows.append([name, *(number(v) for v in m["values"]), *(signed(d) for d in m["differences"][1:]), verdict])
    n = len(labels)
    out.append(text_table(["metric", *labels, *diff_heads, "best"], rows, right=tuple(range(1, 2 * n))))
    if any(m["primary"] for m in result["metrics"]):
        out.append("(* the task's primary metric, the one runs are judged on)")
    out.append("")
    data = result["data"]
    if data["same"]:
        out.append(f"Data: same (sha256 {short_hash(data['sha256'][0])})")
    else:
        out.append("Data: DIFFERENT")
        out.append(text_table(["", "source", "sha256"],
                              [[lab, _cell(s, 50), short_hash(h)]
                               for lab, s, h in zip(labels, data["source"], data["sha256"])]))
    if result["versions"]:
        out.append("Versions (differing)")
        out.append(text_table(["package", *labels], [[k, *(_cell(v) for v in vals)]
                                                      for k, vals in result["versions"].items()]))
    else:
        out.append("Versions: same")
    if result.get("plot"):
        out.append(f"Learning curves: {result['plot']}")
    return "\n".join(out)
