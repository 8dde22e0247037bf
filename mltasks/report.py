"""Report: what a task adds to ``report.md``, and how the runner renders it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Report:
    """Sections, tables, figures and artifacts a task returns from ``Task.report``.

    Figures and artifacts are files the task wrote inside the run directory; paths are
    stored relative to it when possible. ``report.md`` shows sections, tables and figures
    in the order they were added.
    """

    sections: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    artifacts: list[Path] = field(default_factory=list)
    order: list[tuple[str, int]] = field(default_factory=list)

    def add_section(self, title: str, markdown: str) -> Report:
        """A titled block of markdown text."""
        self.order.append(("section", len(self.sections)))
        self.sections.append((title, markdown))
        return self

    def add_table(self, title: str, rows: Sequence[Mapping[str, Any]]) -> Report:
        """A table: one dict per row; the columns are the rows' keys, in first-seen order."""
        self.order.append(("table", len(self.tables)))
        self.tables.append((title, [dict(r) for r in rows]))
        return self

    def add_figure(self, title: str, path: Path | str) -> Report:
        """A PNG the task saved (see :mod:`mltasks.plots`)."""
        self.order.append(("figure", len(self.figures)))
        self.figures.append((title, Path(path)))
        return self

    def blocks(self) -> list[tuple[str, int]]:
        """(kind, index) of every section, table and figure, in the order they were added
        (items appended to the lists directly come last)."""
        seen = set(self.order)
        rest = [(kind, i) for kind, items in (("section", self.sections), ("table", self.tables),
                                              ("figure", self.figures)) for i in range(len(items))
                if (kind, i) not in seen]
        return [*self.order, *rest]

    def add_artifact(self, path: Path | str) -> Report:
        """A file users want from the run (``submission.csv``, a GIF)."""
        self.artifacts.append(Path(path))
        return self


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Render rows of dicts as a GitHub markdown table."""
    if not rows:
        return "_(empty)_\n"
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _relative(path: Path, run_dir: Path) -> str:
    try:
        return path.resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def render(
    *,
    task_name: str,
    run_dir: Path,
    run_info: Mapping[str, Any],
    config: Mapping[str, Any],
    metrics: Mapping[str, float],
    split: str,
    history: Sequence[Mapping[str, float]] = (),
    report: Report | None = None,
    title: str = "",
) -> str:
    """The whole ``report.md`` of a run.

    :param run_dir: the folder the report's files are in (links are relative to it).
    :param title: the run's name for the heading (default: ``run_dir``'s name).
    """
    out = [f"# {task_name} run `{title or run_dir.name}`\n"]
    data = run_info.get("data", {})
    sha = str(data.get("sha256", ""))
    sha = sha[:12] if all(c in "0123456789abcdef" for c in sha) else sha
    out.append(
        f"- data: `{data.get('source', 'default')}` (sha256 `{sha}`)\n"
        f"- seed: {config.get('seed')}\n"
        f"- wall time: {run_info.get('timings', {}).get('total_s', 0):.1f} s\n"
    )
    sizes = data.get("sizes")
    if sizes:
        out.append("- split sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + "\n")
    label = "cross-validation" if split == "cv" else split
    out.append(f"\n## Metrics ({label})\n\n")
    out.append(markdown_table([{"metric": k, "value": v} for k, v in metrics.items()]))
    if report is not None:
        for kind, i in report.blocks():
            if kind == "section":
                title, text = report.sections[i]
                out.append(f"\n## {title}\n\n{text.rstrip()}\n")
            elif kind == "table":
                title, rows = report.tables[i]
                out.append(f"\n## {title}\n\n" + markdown_table(rows))
            else:
                title, path = report.figures[i]
                out.append(f"\n## {title}\n\n![{title}]({_relative(path, run_dir)})\n")
        if report.artifacts:
            out.append("\n## Artifacts\n\n")
            out += [f"- `{_relative(p, run_dir)}`\n" for p in report.artifacts]
    if history:
        out.append("\n## Training history\n\n" + markdown_table(list(history)))
    out.append("\n## Configuration\n\n")
    out.append(markdown_table([{"option": k, "value": v} for k, v in config.items()]))
    return "".join(out)
