"""What a study leaves in its folder: trials.csv, best_config.toml, study.json, report.md
with the optimisation history and parameter importances (PNG)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.config import to_toml
from mltasks.report import markdown_table
from mltasks.task import Task


def _trial_rows(study: Any) -> list[dict[str, Any]]:
    rows = []
    for t in study.trials:
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        row: dict[str, Any] = {"number": t.number, "state": t.state.name, "value": t.value,
                               "seed": t.user_attrs.get("seed"), "duration_s": duration}
        row.update({f"param_{k}": v for k, v in t.params.items()})
        row.update({f"test_{k}": v for k, v in (t.user_attrs.get("test_metrics") or {}).items()})
        row["run_dir"] = t.user_attrs.get("run_dir", "")
        rows.append(row)
    return rows


def write_trials_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """All trials, one row each (state, value, seed, params, test metrics, run folder)."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _plots(study: Any, study_dir: Path, direction: str) -> list[tuple[str, Path]]:
    try:
        from mltasks.plots import bar_chart, figure
    except ImportError:
        return []
    done = [t for t in study.trials if t.state.name == "COMPLETE" and t.value is not None]
    if not done:
        return []
    figures = []
    try:
        with figure(study_dir / "optimization_history.png") as ax:
            best, best_so_far = [], math.inf if direction == "minimize" else -math.inf
            for t in done:
                best_so_far = min(best_so_far, t.value) if direction == "minimize" else max(best_so_far, t.value)
                best.append(best_so_far)
            ax.scatter([t.number for t in done], [t.value for t in done], label="trial", s=18)
            ax.plot([t.number for t in done], best, color="C1", label="best so far")
            ax.set_xlabel("trial")
            ax.set_ylabel("objective (validation)")
            ax.legend()
            ax.set_title("Optimisation history")
        figures.append(("Optimisation history", study_dir / "optimization_history.png"))
        if len(done) >= 3 and study.best_trial.params:
            import optuna

            importances = optuna.importance.get_param_importances(study)
            if importances:
                bar_chart(study_dir / "param_importances.png", importances, "Parameter importance (fANOVA)",
                          "importance")
                figures.append(("Parameter importance", study_dir / "param_importances.png"))
    except Exception as exc:  # a plot must not lose the study's results; say why it is missing
        (study_dir / "plots_error.txt").write_text(f"{type(exc).__name__}: {exc}\n")
    return figures


def write_outputs(study: Any, settings: Any, task_cls: type[Task], wall_s: float) -> dict[str, Any]:
    """Write the study folder and return its summary (also saved as ``study.json``)."""
    study_dir = Path(settings.study_dir)
    rows = _trial_rows(study)
    write_trials_csv(study_dir / "trials.csv", rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    summary: dict[str, Any] = {"task": settings.task, "metric": settings.metric, "direction": settings.direction,
                               "storage": settings.storage, "study_name": settings.study_name,
                               "trials": counts, "wall_s": round(wall_s, 2), "best": None}
    completed = [t for t in study.trials if t.state.name == "COMPLETE"]
    if completed:
        best = study.best_trial
        best_config = {**settings.overrides, **best.params, "seed": best.user_attrs.get("seed")}
        (study_dir / "best_config.toml").write_text(
            f"# best of {len(completed)} trials: validation {settings.metric} = {best.value:.6g}\n"
            f"# mltasks run {settings.task} --config best_config.toml\n" + to_toml(best_config), encoding="utf-8")
        summary["best"] = {"number": best.number, "value": best.value, "params": best.params,
                           "seed": best.user_attrs.get("seed"), "run_dir": best.user_attrs.get("run_dir"),
                           "test_metrics": best.user_attrs.get("test_metrics")}
    rundir.write_json(study_dir / "study.json", summary)
    figures = _plots(study, study_dir, settings.direction)
    lines = [f"# Tuning {settings.task}: {settings.metric} ({settings.direction})\n",
             f"- trials: {json.dumps(counts)}; wall time {wall_s:.1f} s; storage `{settings.storage}`\n"]
    if summary["best"]:
        b = summary["best"]
        lines.append(f"- best trial {b['number']}: validation {settings.metric} = {b['value']:.6g}, "
                     f"run `{b['run_dir']}`; config in `best_config.toml`\n")
        if b["test_metrics"]:
            lines.append("\n## Test metrics of the chosen configuration (reported once, never selected on)\n\n")
            lines.append(markdown_table([{"metric": k, "value": v} for k, v in b["test_metrics"].items()]))
    lines.append("\n## Trials\n\n" + markdown_table(rows))
    for title, path in figures:
        lines.append(f"\n## {title}\n\n![{title}]({path.name})\n")
    (study_dir / "report.md").write_text("".join(lines), encoding="utf-8")
    return summary
