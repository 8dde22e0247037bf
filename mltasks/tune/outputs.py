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
from mltasks.tune.storage import shown

SPLIT_LABEL = {"cv": "CV", "val": "validation", "test": "test"}


def column(split: str, name: str) -> str:
    """A metric's column name saying what it was measured on: ``cv_``, ``val_`` or ``test_``."""
    return name if name.startswith(f"{split}_") else f"{split}_{name}"


def _split_of(trials: list[Any]) -> str:
    """The split the study selects on (from its completed trials; ``val`` before any)."""
    return next((t.user_attrs["split"] for t in trials if t.user_attrs.get("split")), "val")


def fixed_values(settings: Any) -> dict[str, Any]:
    """The config every trial ran with besides its parameters: the space's ``[study] fixed``,
    ``--set``, and ``smoke = true`` for a ``--quick`` study (so ``best_config.toml`` reruns it)."""
    fixed = dict(settings.overrides)
    if getattr(settings, "quick", False):
        fixed["smoke"] = True
    return fixed


def _trial_rows(trials: list[Any], split: str, metric: str, repeats: int) -> list[dict[str, Any]]:
    objective = column(split, metric)
    rows = []
    for t in trials:
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        seeds = t.user_attrs.get("seeds") or []
        row: dict[str, Any] = {"number": t.number, "state": t.state.name}
        if repeats > 1:
            row[f"{objective}_mean"], row[f"{objective}_std"] = t.value, t.user_attrs.get("std")
            row["seeds"] = " ".join(str(s) for s in seeds)
        else:
            row[objective], row["seed"] = t.value, (seeds[0] if seeds else None)
        row["duration_s"] = None if duration is None else round(duration, 2)
        row.update({f"param_{k}": v for k, v in t.params.items()})
        row.update({column(split, k): v for k, v in (t.user_attrs.get("metrics") or {}).items()
                    if column(split, k) != objective})
        row["run_dir"] = t.user_attrs.get("run_dir", "")
        rows.append(row)
    return rows


def write_trials_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """All trials, one row each (state, objective, seeds, active params, selection metrics, run folder)."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    # a conditional space adds parameters row by row: keep them together, the run folder last
    position = {c: i for i, c in enumerate(columns)}
    columns.sort(key=lambda c: 3 if c == "run_dir" else 1 if c.startswith("param_") else
                 2 if position[c] > position.get("duration_s", -1) else 0)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _importances(study: Any, done: list[Any], best: Any) -> tuple[dict[str, float], str]:
    """fANOVA importances of the parameters that were active in the chosen configuration,
    over the trials that had exactly those parameters (the chosen branch of a conditional space)."""
    import optuna

    branch = [t for t in done if set(t.params) == set(best.params)]
    varied = [name for name in best.params if len({repr(t.params[name]) for t in branch}) > 1]
    if len(branch) < 3 or not varied:
        return {}, ""
    view = optuna.create_study(direction=study.direction)
    view.add_trials(branch)
    note = "" if len(branch) == len(done) else f", the {len(branch)} trials with the chosen configuration's parameters"
    return optuna.importance.get_param_importances(view, params=varied), note


def _plots(study: Any, done: list[Any], study_dir: Path, direction: str, split: str) -> list[tuple[str, Path]]:
    try:
        from mltasks.plots import bar_chart, figure
    except ImportError:
        return []
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
            ax.set_ylabel(f"objective ({SPLIT_LABEL.get(split, split)})")
            ax.legend()
            ax.set_title("Optimisation history")
        figures.append(("Optimisation history", study_dir / "optimization_history.png"))
        importances, note = _importances(study, done, study.best_trial)
        if importances:
            bar_chart(study_dir / "param_importances.png", importances, f"Parameter importance (fANOVA{note})",
                      "importance")
            figures.append(("Parameter importance", study_dir / "param_importances.png"))
    except Exception as exc:  # a plot must not lose the study's results; say why it is missing
        (study_dir / "plots_error.txt").write_text(f"{type(exc).__name__}: {exc}\n")
    return figures


def _test_after_selection(best: Any) -> tuple[dict[str, float], str]:
    """Score the chosen configuration's runs on the labelled test set, once, now that it is chosen.

    :returns: the mean test metrics over the repeat runs (empty when the test set is unlabelled),
        and why they are missing when they could not be computed.
    """
    from mltasks.errors import MltasksError
    from mltasks.finished import evaluate_run

    root = Path(best.user_attrs.get("run_dir", ""))
    seeds = best.user_attrs.get("seeds") or []
    runs = [root] if len(seeds) <= 1 else [root / f"seed-{s}" for s in seeds]
    scored = []
    for run_dir in runs:
        if not (run_dir / "metrics.json").is_file():
            return {}, f"the chosen trial's runs are not on this machine ({root})"
        if rundir.read_json(run_dir / "metrics.json").get("split") != "test":
            return {}, ""  # unlabelled test: the selection score is all there is
        try:
            scored.append(evaluate_run(run_dir)["metrics"])
        except MltasksError as exc:
            return {}, f"could not score {run_dir} on test: {exc}"
    return {k: sum(m[k] for m in scored) / len(scored) for k in scored[0]}, ""


def _best_summary(best: Any, completed: int, settings: Any, split: str) -> dict[str, Any]:
    seeds = best.user_attrs.get("seeds") or [settings.seed]
    test_metrics, test_note = _test_after_selection(best)
    return {"number": best.number, "value": best.value, "std": best.user_attrs.get("std", 0.0),
            "values": best.user_attrs.get("values"), "split": split, "params": best.params, "seeds": seeds,
            "seed": seeds[0], "run_dir": best.user_attrs.get("run_dir"), "completed_trials": completed,
            "selection_metrics": best.user_attrs.get("metrics") or {}, "test_metrics": test_metrics,
            "test_note": test_note}


def write_outputs(study: Any, settings: Any, task_cls: type[Task], wall_s: float) -> dict[str, Any]:
    """Write the study folder and return its summary (also saved as ``study.json``)."""
    study_dir = Path(settings.study_dir)
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    split = _split_of(done)
    rows = _trial_rows(trials, split, settings.metric, settings.repeats)
    write_trials_csv(study_dir / "trials.csv", rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    summary: dict[str, Any] = {
        "task": settings.task, "metric": settings.metric, "direction": settings.direction,
        "selection_split": split, "seed": settings.seed, "split_seed": settings.seed,
        "model_seed": "study seed + trial number" if settings.vary_seed else "study seed",
        "repeats": settings.repeats, "trials_total": settings.trials, "storage": shown(settings.storage),
        "study_name": settings.study_name, "study_dir": str(study_dir), "trials": counts,
        "fixed": fixed_values(settings),  # every trial's fixed config: the space's [study] fixed, --set, --quick
        "wall_s": round(wall_s, 2), "best": None,
    }
    if done:
        best = study.best_trial
        summary["best"] = _best_summary(best, len(done), settings, split)
        spread = f" ± {summary['best']['std']:.3g} over {settings.repeats} seeds" if settings.repeats > 1 else ""
        best_config = {**fixed_values(settings), **best.params, "seed": summary["best"]["seed"],
                       "split_seed": settings.seed}
        (study_dir / "best_config.toml").write_text(
            f"# best of {len(done)} trials: {SPLIT_LABEL[split]} {settings.metric} = {best.value:.6g}{spread}\n"
            f"# mltasks run {settings.task} --config best_config.toml\n" + to_toml(best_config), encoding="utf-8")
    rundir.write_json(study_dir / "study.json", summary)
    figures = _plots(study, done, study_dir, settings.direction, split)
    (study_dir / "report.md").write_text(_report(summary, rows, figures, settings), encoding="utf-8")
    return summary


def _report(summary: dict[str, Any], rows: list[dict[str, Any]], figures: list[tuple[str, Path]],
            settings: Any) -> str:
    label = SPLIT_LABEL[summary["selection_split"]]
    seeds = ("study seed + trial number (--vary-seed)" if settings.vary_seed else "the study seed")
    lines = [f"# Tuning {settings.task}: {settings.metric} ({settings.direction})\n\n",
             f"- study `{summary['study_name']}` in `{summary['storage']}`: {json.dumps(summary['trials'])} "
             f"of {summary['trials_total']} trials; wall time {summary['wall_s']:.1f} s (this call)\n",
             f"- every trial on the same split and folds (split seed {summary['split_seed']}); model seed: {seeds}"
             + (f"; each configuration scored with {settings.repeats} seeds, selected on the mean\n"
                if settings.repeats > 1 else "\n")]
    if summary["fixed"]:
        lines.append(f"- fixed in every trial: {', '.join(f'{k} = {v!r}' for k, v in summary['fixed'].items())}\n")
    best = summary["best"]
    if best:
        score = _pm(best["value"], best, settings)
        lines.append(f"- best trial {best['number']}: {label} {settings.metric} = {score}, "
                     f"run `{best['run_dir']}`; config in `best_config.toml`\n")
    lines.append("\n## Trials\n\n" + markdown_table(rows))
    for title, path in figures:
        lines.append(f"\n## {title}\n\n![{title}]({path.name})\n")
    if best:
        lines.append(f"\n## {label[0].upper() + label[1:]} score of the chosen configuration "
                     "(the score it was selected on)\n\n")
        lines.append(markdown_table([{"metric": k, "value": v} for k, v in best["selection_metrics"].items()]))
        if best["test_metrics"]:
            lines.append("\n## Test score of the chosen configuration (computed once, after selection)\n\n")
            lines.append(markdown_table([{"metric": k, "value": v} for k, v in best["test_metrics"].items()]))
        elif best["test_note"]:
            lines.append(f"\nNo test score: {best['test_note']}.\n")
    return "".join(lines)


def _pm(value: float, best: dict[str, Any], settings: Any) -> str:
    if settings.repeats > 1:
        return f"{value:.6g} ± {best['std']:.3g} (mean ± std over {settings.repeats} seeds)"
    return f"{value:.6g}"
