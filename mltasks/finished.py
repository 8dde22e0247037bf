"""Using a finished run: load its trained task, score it again, predict with it.

None of these change a finished run directory — except that ``evaluate`` completes a run whose
evaluation failed after its model was saved (``failed-at-evaluation``) — and none executes code
read from it (the task's ``load`` reads only safe formats; the kit checks it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mltasks import rundir
from mltasks.config import resolve, to_dict
from mltasks.errors import ConfigError, RunDirectoryError
from mltasks.lookup import get_task
from mltasks.progress import Progress
from mltasks.results import evaluate_splits, score, write_results
from mltasks.run_record import FAILED_AT_EVALUATION, RunRecord
from mltasks.runfiles import check_run_tree, read_run_config, read_run_json
from mltasks.seeding import seed_everything
from mltasks.task import Evaluation, Task, TaskConfig

#: config keys that decide the split or the model: re-scoring keeps the run's
KEPT_KEYS = ("seed", "split_seed", "data_seed")

logger = logging.getLogger("mltasks")


def _run_config(run_dir: Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir}: no such run directory")
    return read_run_config(run_dir)


def load_run(run_dir: str | Path) -> Task:
    """The trained task of a finished run, loaded through the task named in its config.json.

    :raises RunDirectoryError: the folder is not a finished run, its config.json is not a run
        config, or the saved model does not fit the task the config names.
    """
    run_dir = Path(run_dir)
    saved = _run_config(run_dir)
    task_cls = get_task(saved["task"])
    model = run_dir / "model"
    if not model.is_dir() or model.is_symlink():
        raise RunDirectoryError(f"{model}: missing; is {run_dir} a finished run?")
    check_run_tree(run_dir)
    try:
        return task_cls.load(model)
    except ConfigError as exc:  # a config written for another task (or edited by hand)
        raise RunDirectoryError(f"{run_dir}: its saved configuration does not fit task {saved['task']!r} "
                                f"({exc})") from None


def scoring_config(config: TaskConfig, overrides: Mapping[str, Any]) -> TaskConfig:
    """The run's config with ``overrides`` (``evaluate --set``) for scoring it again.

    :raises ConfigError: an unknown key, a bad value, or a key in :data:`KEPT_KEYS`.
    """
    kept = sorted({str(k).replace("-", "_") for k in overrides} & set(KEPT_KEYS))
    if kept:
        raise ConfigError(f"--set {kept[0]}: evaluate keeps the run's seeds and split (re-run the task to change it)")
    return resolve(type(config), to_dict(config), overrides, sources=("the run's config", "--set"))


def evaluate_run(run_dir: str | Path, data: str | Path | None = None,
                 overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Score a finished run's model again, on ``data`` or on the data it was trained with.

    :param overrides: config values for scoring (``evaluate --set``: batch size, threads, a
        module to import); the seeds, and so the split, stay the run's.
    :returns: ``{"split": ..., "metrics": {...}}``; the run directory is not changed.
    """
    saved = _run_config(Path(run_dir))
    task_obj = load_run(run_dir)
    if overrides:
        task_obj.config = scoring_config(task_obj.config, overrides)
    source = data if data is not None else saved.get("data")
    warning = ""
    if data is None:  # re-scoring the run's own data: it must be the data the run saw
        info = read_run_json(Path(run_dir) / "run.json", root=run_dir, expect=dict)
        data_record = info.get("data")
        recorded = data_record.get("sha256") if isinstance(data_record, dict) else None
        current = rundir.data_fingerprint(source).get("sha256")
        if recorded and current != recorded:
            warning = (f"{source}: the data changed since the run (sha256 {str(recorded)[:12]} -> "
                       f"{str(current)[:12]}); the test split may now overlap the training data")
            logger.warning(warning)
    seed_everything(task_obj.config.seed)
    splits = task_obj.load_data(source)
    if data is None and not overrides and _status(Path(run_dir)) == FAILED_AT_EVALUATION:
        evaluation = complete_run(task_obj, splits, Path(run_dir), saved)
        logger.warning("%s: evaluation completed; the run is now complete", run_dir)
        return {"split": evaluation.split, "metrics": dict(evaluation),
                "data": "default" if source is None else str(source), "completed": True}
    test, split = splits.scored()
    metrics = dict(score(task_obj, test, split))
    result: dict[str, Any] = {"split": split, "metrics": metrics, "data": "default" if source is None else str(source)}
    if warning:
        result["warning"] = warning
    return result


def _status(run_dir: Path) -> str:
    return RunRecord.read(run_dir).status


def complete_run(task_obj: Task, splits: Any, run_dir: Path, saved: Mapping[str, Any]) -> Evaluation:
    """Finish a ``failed-at-evaluation`` run in place: score its saved model on its own data and
    write the metrics, report and ``run.json`` it lacks (``mltasks evaluate RUN`` on such a run)."""
    record = RunRecord.read(run_dir)
    started = time.time() - float(record.timings.get("total_s") or 0)
    scored = evaluate_splits(task_obj, splits, evaluate_val=False)
    record.timings["evaluate_s"] = scored.seconds
    record = write_results(task_obj, splits, scored, str(saved["task"]), dict(saved.get("config") or {}), record,
                           run_dir, run_dir.name, Progress(quiet=True), started)
    record.write(run_dir)
    return scored.test


def predict_run(run_dir: str | Path, inputs: list[Any] | None = None, **options: Any) -> list[dict[str, Any]]:
    """Predict with a finished run's model (the run directory is not changed).

    :param options: predict options, as values or as text (``--set``): the task's ``predict``
        checks their names and converts them to its declared types (:mod:`mltasks.predict_options`).
    :raises ConfigError: an unknown option or a value of the wrong type.
    """
    task_obj = load_run(run_dir)
    return task_obj.predict(inputs if inputs else None, **options)


