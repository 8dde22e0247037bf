"""MkDocs hook: benchmark tables and charts drawn from ``benchmarks/results/*.json`` at build time.

A fenced block of language ``benchmark`` on a page is replaced by a table (and a bar chart)
of one results file, with where the figures come from: the command that produced them, the
machine and the date. Nothing is copied by hand; a benchmark rerun changes the page on the
next build. The block holds YAML::

    file: text.json                 # under benchmarks/results/ (required)
    table: rows                     # dotted path to a list of records, a mapping of records
                                    # (keyed rows) or a mapping of values (two columns)
    columns: [model, accuracy, macro_f1, {train_s: training s}]   # dotted paths; {path: header}
    key: model                      # header of the key column of a mapping of records
    where: {data: default}          # keep the rows whose columns have these values (optional)
    keys: [text_tfidf, image_batched]   # of a mapping of records: these rows, in this order
    chart: accuracy                 # a numeric column drawn as horizontal bars (optional)
    command: python benchmarks/text.py   # only where the file does not record its command

``<!-- benchmark-index -->`` lists every results file with its command, machine and date.
A missing file or path fails the build, naming the keys that do exist.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
_BLOCK = re.compile(r"^```benchmark[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_INDEX = re.compile(r"^<!-- benchmark-index -->[ \t]*$", re.M)
_DATE_KEYS = ("date", "finished", "measured_at", "timestamp")
_MACHINE_KEYS = ("cpus", "cpu_count", "device", "python", "torch", "threads")


class BenchmarkError(ValueError):
    """A benchmark block that cannot be drawn from its results file."""


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the page's ``benchmark`` blocks and index marker."""
    where = page.file.src_uri
    markdown = _INDEX.sub(lambda m: index_table(), markdown)
    return _BLOCK.sub(lambda m: render_block(m.group(1), where), markdown)


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in RESULTS.glob("*.json")))
        raise BenchmarkError(f"benchmarks/results/{name}: no such file (there are: {known})")
    return json.loads(path.read_text(encoding="utf-8"))


def _get(data: Any, path: str, where: str) -> Any:
    value = data
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            keys = ", ".join(map(str, value)) if isinstance(value, dict) else type(value).__name__
            raise BenchmarkError(f"{where}: no {part!r} in {path!r} (found: {keys})")
    return value


def _dig(record: Any, path: str) -> Any:
    """A column of a row: a dotted path, or a key that itself holds dots."""
    if isinstance(record, dict) and path in record:
        return record[path]
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def fmt(value: Any) -> str:
    """A table cell: 4 significant digits, integers in full, nothing for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


def provenance(name: str, data: dict[str, Any], fallback_command: str | None = None) -> dict[str, str]:
    """Command, machine and date of a results file, from the file itself where it records them."""
    command = data.get("command") if isinstance(data.get("command"), str) else None
    script = RESULTS.parent / f"{Path(name).stem}.py"
    if not command or not command.strip().startswith(("python", "mltasks", "/usr/bin/time", "torchrun")):
        command = fallback_command or (f"python benchmarks/{script.name}" if script.is_file() else None)
    machine = data.get("machine")
    parts = [fmt(machine) if isinstance(machine, (str, dict)) else ""]
    parts += [f"{k} {data[k]}" for k in _MACHINE_KEYS if isinstance(data.get(k), (str, int, float))]
    date = next((str(data[k]) for k in _DATE_KEYS if data.get(k)), None)
    if date is None and isinstance(machine, dict):
        dates = [str(v.get(k)) for v in machine.values() if isinstance(v, dict) for k in _DATE_KEYS if v.get(k)]
        date = max(dates)[:10] if dates else None
    return {"command": command or "not recorded in the file",
            "machine": "; ".join(p for p in parts if p) or "not recorded in the file",
            "date": date or _file_date(RESULTS / name)}


def _file_date(path: Path) -> str:
    """When the file was last written: its last commit, or its modification time when it has
    changes not committed yet (or there is no git)."""
    rel = str(path.relative_to(ROOT))
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", rel], cwd=ROOT, capture_output=True,
                               text=True, timeout=20, check=True).stdout.strip()
        if not dirty:
            day = subprocess.run(["git", "log", "-1", "--format=%cs", "--", rel], cwd=ROOT, capture_output=True,
                                 text=True, timeout=20, check=True).stdout.strip()
            if day:
                return f"{day} (last commit of the file)"
    except (OSError, subprocess.SubprocessError):
        pass
    day = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc).date().isoformat()
    return f"{day} (file modified)"


def _rows(table: Any, key: str, where: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Records of a table path, and its natural columns."""
    if isinstance(table, list) and all(isinstance(r, dict) for r in table):
        columns = list(dict.fromkeys(k for r in table for k, v in r.items() if not isinstance(v, (list, dict))))
        return table, columns
    if isinstance(table, dict) and any(isinstance(v, dict) for v in table.values()):
        records = {k: v for k, v in table.items() if isinstance(v, dict)}  # notes beside the records are left out
        rows = [{key: k, **v} for k, v in records.items()]
        scalars = [k for r in records.values() for k, v in r.items() if not isinstance(v, (list, dict))]
        return rows, [key, *dict.fromkeys(scalars)]
    if isinstance(table, dict):
        rows = [{key: k, "value": v} for k, v in table.items() if not isinstance(v, (list, dict))]
        return rows, [key, "value"]
    raise BenchmarkError(f"{where}: the table is a {type(table).__name__}, not records or a mapping")


def render_block(body: str, where: str) -> str:
    """The Markdown of one ``benchmark`` block."""
    spec = yaml.safe_load(body) or {}
    if not isinstance(spec, dict) or "file" not in spec:
        raise BenchmarkError(f"{where}: a benchmark block needs at least 'file: NAME.json'")
    name = spec["file"]
    where = f"{where}: benchmark block of {name}"
    data = _load(name)
    table = _get(data, spec["table"], where) if spec.get("table") else data
    rows, natural = _rows(table, spec.get("key", "name"), where)
    if spec.get("keys"):
        by_key = {r.get(spec.get("key", "name")): r for r in rows}
        missing = [k for k in spec["keys"] if k not in by_key]
        if missing:
            raise BenchmarkError(f"{where}: no rows {missing} (rows: {', '.join(map(str, by_key))})")
        rows = [by_key[k] for k in spec["keys"]]
    for path, value in (spec.get("where") or {}).items():
        rows = [r for r in rows if _dig(r, path) == value]
    if not rows:
        raise BenchmarkError(f"{where}: no row left (where: {spec.get('where')})")
    columns: list[tuple[str, str]] = []
    for col in spec.get("columns") or natural:
        path, header = next(iter(col.items())) if isinstance(col, dict) else (col, col.split(".")[-1])
        if all(_dig(r, path) is None for r in rows):
            raise BenchmarkError(f"{where}: no row has a value for column {path!r} (columns: {', '.join(natural)})")
        columns.append((path, header))
    out = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(fmt(_dig(r, p)) for p, _ in columns) + " |" for r in rows]
    if spec.get("chart"):
        out += ["", bar_chart(rows, columns[0][0], spec["chart"], where)]
    source = provenance(name, data, spec.get("command"))
    out += ["", f'<p class="mltasks-source">From <code>benchmarks/results/{name}</code>, produced by '
                f'<code>{html.escape(source["command"])}</code> on {html.escape(source["machine"])}; '
                f'{html.escape(source["date"])}.</p>']
    return "\n".join(out) + "\n"


def bar_chart(rows: list[dict[str, Any]], label: str, value: str, where: str) -> str:
    """An inline SVG of horizontal bars (no script, no outside request)."""
    points = [(fmt(_dig(r, label)), _dig(r, value)) for r in rows]
    points = [(k, float(v)) for k, v in points if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not points:
        raise BenchmarkError(f"{where}: chart column {value!r} holds no numbers")
    top = max(max(v for _, v in points), 1e-12)
    bar_h, left, width = 22, 200, 360
    height = bar_h * len(points) + 24
    parts = [f'<svg class="mltasks-chart" role="img" viewBox="0 0 {left + width + 80} {height}" '
             f'width="{left + width + 80}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{html.escape(value)}</title>"]
    for i, (name, v) in enumerate(points):
        y = 8 + i * bar_h
        w = max(1.0, width * max(v, 0.0) / top)
        parts += [f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{html.escape(name[:32])}</text>',
                  f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 6}"></rect>',
                  f'<text x="{left + w + 6:.1f}" y="{y + 14}">{html.escape(fmt(v))}</text>']
    parts.append(f'<text x="{left}" y="{height - 2}" class="axis">{html.escape(value)}</text></svg>')
    return '<div class="mltasks-chart-box">' + "".join(parts) + "</div>"


def index_table() -> str:
    """Every results file with its command, machine and date."""
    out = ["| results file | produced by | machine | date |", "|---|---|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        source = provenance(path.name, json.loads(path.read_text(encoding="utf-8")))
        machine = source["machine"] if len(source["machine"]) < 90 else source["machine"][:87] + "..."
        out.append(f"| `{path.name}` | `{fmt(source['command'])}` | {fmt(machine)} | {source['date']} |")
    return "\n".join(out) + "\n"
