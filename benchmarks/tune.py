"""Does tuning pay, once trials are compared on fixed folds? A study vs the default configuration.

For each task (default: kaggle on its default data; ``--tasks kaggle recommender`` adds the
recommender) this runs a study of ``--trials`` trials with the task's default search space and
the study seed ``--seed``: every trial is scored on the same split and CV folds (kaggle's space
repeats them: ``[study] fixed = {cv_repeats = 5}``). It then scores the default configuration on
those same folds, and re-scores both the default and the chosen configuration on ``--rescore``
other fold seeds (``split_seed``) under the same protocol (the study's fixed values, ``fixed`` in
the JSON), where the tuned one must stay ahead for the gain to be more than fold luck. Every fold
seed scored is written, not only the good ones. Selection uses CV (kaggle) or validation
(recommender) only; a labelled test set scores the chosen configuration once, after selection.

Run: ``nice -n 10 python benchmarks/tune.py [--tasks kaggle] [--trials 20]``; writes
``benchmarks/results/tune.json``. ``--rescore-only --rescore 4 5 6`` adds fold seeds to the
saved studies' comparison without tuning again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from mltasks.runner import RunRequest, execute
from mltasks.tune import objective_value, tune

FIXED = {"num_threads": 1}  # two shared cores: one thread per run (forests n_jobs=1) keeps timings comparable


def _load() -> str:
    """The 1/5/15-minute load averages: wall times on a shared machine mean little without them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else \
        " ".join(f"{v:.2f}" for v in os.getloadavg())


def _score(task: str, metric: str, work: Path, name: str, overrides: dict, split_seed: int, seed: int) -> float:
    request = RunRequest(task, overrides={**FIXED, **overrides, "split_seed": split_seed}, seed=seed, out=work / name)
    result = execute(request, evaluate_val=True)  # validation scores, as a tuning trial's
    return objective_value(result, metric)


def _one(task: str, trials: int, seed: int, rescore: list[int], work: Path) -> dict:
    load_before, started = _load(), time.time()
    summary = tune(task, trials=trials, seed=seed, overrides=FIXED, out=work / f"{task}-study")
    study_s = time.time() - started
    best, fixed = summary["best"], summary["fixed"]  # the study's protocol: the default is scored under it too
    metric, sign = summary["metric"], (1 if summary["direction"] == "maximize" else -1)
    started = time.time()
    default_fixed = _score(task, metric, work, f"{task}-default-{seed}", fixed, seed, seed)
    default_s = time.time() - started
    row = {
        "task": task, "metric": metric, "direction": summary["direction"], "selection_split": best["split"],
        "study_seed": seed, "fixed": fixed, "trials": summary["trials"], "best_trial": best["number"],
        "best_params": best["params"],
        "fixed_folds": {"split_seed": seed, "default": default_fixed, "tuned": best["value"],
                        "tuned_ahead": sign * (best["value"] - default_fixed) > 0},
        "other_folds": [],
        "tuned_test_after_selection": best["test_metrics"] or None,
        "study_s": round(study_s, 1), "default_run_s": round(default_s, 1),
        "loadavg_before_study": load_before, "loadavg_after_study": _load(),
    }
    return _rescore(row, rescore, work)


def _rescore(row: dict, seeds: list[int], work: Path) -> dict:
    """Score the default and the chosen configuration on other fold seeds (``split_seed``); summarise."""
    task, metric, seed = row["task"], row["metric"], row["study_seed"]
    sign = 1 if row["direction"] == "maximize" else -1
    fixed = row.get("fixed", FIXED)
    folds = {f["split_seed"]: f for f in row["other_folds"]}
    for other in seeds:
        tuned = _score(task, metric, work, f"{task}-tuned-{other}", {**fixed, **row["best_params"]}, other, seed)
        default = _score(task, metric, work, f"{task}-default-{other}", fixed, other, seed)
        folds[other] = {"split_seed": other, "default": default, "tuned": tuned,
                        "tuned_ahead": sign * (tuned - default) > 0}
    row["other_folds"] = [folds[k] for k in sorted(folds)]
    gains = [sign * (f["tuned"] - f["default"]) for f in row["other_folds"]]
    row["tuned_ahead_on_other_folds"] = f"{sum(g > 0 for g in gains)} of {len(gains)}"
    row["mean_gain_on_other_folds"] = sum(gains) / len(gains) if gains else None
    row["tuned_ahead_everywhere"] = row["fixed_folds"]["tuned_ahead"] and all(g > 0 for g in gains)
    row["loadavg_after_rescore"] = _load()
    return row


def main() -> None:
    """Run the comparison, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["kaggle"])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="study seed: the fixed folds of every trial")
    parser.add_argument("--rescore", type=int, nargs="+", default=[1, 2, 3], help="other fold seeds")
    parser.add_argument("--rescore-only", action="store_true",
                        help="keep the studies in --out and only add the --rescore fold seeds")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "tune.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mltasks-tune-bench-") as tmp:
        if args.rescore_only:
            saved = json.loads(Path(args.out).read_text())
            rows = [_rescore(row, args.rescore, Path(tmp)) for row in saved["results"]]
            args.trials = saved["trials"]
        else:
            rows = [_one(task, args.trials, args.seed, args.rescore, Path(tmp)) for task in args.tasks]
    print(f"{'task':<12}{'metric':<12}{'folds':>6}{'default':>10}{'tuned':>10}  ahead")
    for r in rows:
        for f in [r["fixed_folds"], *r["other_folds"]]:
            mark = "study" if f["split_seed"] == r["study_seed"] else "other"
            print(f"{r['task']:<12}{r['metric']:<12}{f['split_seed']:>6}{f['default']:>10.4f}{f['tuned']:>10.4f}"
                  f"  {'yes' if f['tuned_ahead'] else 'NO'} ({mark})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": f"{platform.machine()}, {platform.python_version()}, num_threads=1",
               "trials": args.trials, "results": rows}
    out.write_text(json.dumps(payload, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
