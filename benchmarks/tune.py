"""Does tuning pay? A 20-trial study vs the default configuration, per task.

For each task (default: kaggle and recommender, on their default data) this runs the
default configuration once and a study of ``--trials`` trials with the task's default
search space. Selection uses the validation metric (cross-validation for kaggle) only;
the test metric of the chosen configuration is printed beside the default's.

Run: ``python benchmarks/tune.py [--tasks kaggle recommender] [--trials 20]``; writes
``benchmarks/results/tune.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import mltasks
from mltasks.plugins import registry
from mltasks.tune import load_space, objective_value, tune


def _one(task: str, trials: int, work: Path) -> dict:
    space = load_space(None, mltasks.get_task(task).Config, registry().get(task).spec.search_space)
    metric = space.metric
    started = time.time()
    default = mltasks.run(task, out=work / f"{task}-default", evaluate_val=True)
    default_s = time.time() - started
    started = time.time()
    summary = tune(task, trials=trials, out=work / f"{task}-study")
    best = summary["best"]
    return {
        "task": task, "metric": metric, "direction": summary["direction"], "trials": summary["trials"],
        "default_val": objective_value(default, metric), "tuned_val": best["value"],
        "default_test": default.metrics.get(metric), "tuned_test": (best["test_metrics"] or {}).get(metric),
        "selection_split": "cv" if default.split == "cv" else "val",
        "default_s": round(default_s, 1), "study_s": round(time.time() - started, 1), "best_params": best["params"],
    }


def main() -> None:
    """Run the comparison, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["kaggle", "recommender"])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "tune.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mltasks-tune-bench-") as tmp:
        rows = [_one(task, args.trials, Path(tmp)) for task in args.tasks]
    print(f"{'task':<12}{'metric':<16}{'select on':>10}{'default val':>13}{'tuned val':>11}"
          f"{'default test':>14}{'tuned test':>12}{'study s':>9}")
    for r in rows:
        better = (r["tuned_val"] > r["default_val"]) == (r["direction"] == "maximize")
        print(f"{r['task']:<12}{r['metric']:<16}{r['selection_split']:>10}{r['default_val']:>13.4f}"
              f"{r['tuned_val']:>11.4f}{r['default_test'] or float('nan'):>14.4f}"
              f"{r['tuned_test'] or float('nan'):>12.4f}{r['study_s']:>9.0f}  {'beats default' if better else 'MISS'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
