"""How fast ``mltasks runs`` lists a big runs folder: 500 synthetic run directories.

Run: ``python benchmarks/runs_listing.py [--runs 500] [--repeat 7]``. Target: the whole
command (a fresh interpreter, as a user types it) under 1 s. ``mltasks --version`` is
timed alongside: the difference is what listing costs beyond the CLI's start-up (on a busy
machine both grow; the difference is the stabler figure). Prints a table and writes
``benchmarks/results/runs_listing.json``. The run directories hold the JSON files the
runner writes (``run.json``, ``config.json``, ``metrics.json``, ``history.json``), for
three tasks, with some unfinished (``.NAME.partial``) and failed runs among them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASKS = {"text": ("accuracy", True), "kaggle": ("rmse", False), "speech": ("wer", False)}


def write_run(folder: Path, i: int, *, task: str, status: str = "complete", rng: random.Random | None = None) -> Path:
    """One synthetic run directory shaped like the runner's (``.NAME.partial`` unless complete)."""
    rng = rng or random.Random(i)
    name = f"{task}-20260101-{i:06d}"
    path = folder / (name if status == "complete" else f".{name}.partial")
    path.mkdir(parents=True)
    metric, greater = TASKS.get(task, ("accuracy", True))
    value = round(rng.random(), 6)
    info = {"task": task, "command": ["mltasks", "run", task], "status": status, "seed": i % 7,
            "versions": {"python": "3.11.7", "mltasks": "0.1.0", f"mltasks-{task}": "0.1.0"},
            "data": {"source": f"/data/{task}/set-{i % 3}.csv", "sha256": f"{i % 3:064x}"},
            "started": "2026-01-01T00:00:00+0000",
            "timings": {"total_s": round(1 + rng.random() * 100, 3)} if status == "complete" else {}}
    if status == "failed":
        info["error"] = "RuntimeError: boom"
    (path / "run.json").write_text(json.dumps(info, indent=2))
    (path / "config.json").write_text(json.dumps({"task": task, "data": info["data"]["source"],
                                                  "config": {"seed": i % 7, "epochs": 1 + i % 5, "lr": 0.001}}))
    if status == "complete":
        body = {"split": "test", "metrics": {metric: value, "loss": round(1 - value, 6)},
                "primary_metric": {"name": metric, "greater_is_better": greater}}
        (path / "metrics.json").write_text(json.dumps(body, indent=2))
        history = [{"epoch": e, "val_loss": 1 / e} for e in range(1, 6)]
        (path / "history.json").write_text(json.dumps(history))
        (path / "model").mkdir()
        (path / "model" / "weights.safetensors").write_bytes(b"\0" * 64)  # a finished run holds its model
    return path


def write_runs(folder: Path, n: int = 500, seed: int = 0) -> dict[str, int]:
    """``n`` run directories in ``folder``: every 25th unfinished, every 50th failed; counts by status."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    tasks = list(TASKS)
    for i in range(n):
        status = "failed" if i % 50 == 49 else "interrupted" if i % 25 == 24 else "complete"
        write_run(folder, i, task=tasks[i % len(tasks)], status=status, rng=rng)
        counts[status] = counts.get(status, 0) + 1
    return counts


def _command(folder: Path) -> list[str]:
    probe = subprocess.run([sys.executable, "-m", "mltasks", "runs", "--help"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "mltasks", "runs", str(folder)]
    # before the CLI wires the command: call it directly (same imports, minus the group)
    return [sys.executable, "-c", "import sys; from mltasks.runs.command import runs; runs(sys.argv[1:])", str(folder)]


def main() -> None:
    """Time the listing in-process and as a fresh ``mltasks runs`` process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "runs_listing.json"))
    args = parser.parse_args()
    from mltasks.runs.listing import list_runs

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "runs"
        counts = write_runs(folder, args.runs)
        listed = list_runs([folder])  # warm the file cache
        in_process, command, startup = [], [], []
        cmd = _command(folder)
        version = [sys.executable, "-m", "mltasks", "--version"]
        for _ in range(args.repeat):  # interleaved, so machine noise hits all alike
            t0 = time.perf_counter()
            subprocess.run(version, check=True, capture_output=True)
            startup.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            list_runs([folder], show_all=True)
            in_process.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            command.append(time.perf_counter() - t0)
    result = {"run_dirs": args.runs, "by_status": counts, "listed_default": len(listed),
              "median_s": {"list_runs (in process)": statistics.median(in_process),
                           "mltasks runs (fresh process)": statistics.median(command),
                           "mltasks --version (start-up only)": statistics.median(startup)},
              "target_s": 1.0, "command": " ".join(cmd[1:3]),
              "samples_s": {"in_process": in_process, "command": command, "startup": startup}}
    print(f"{args.runs} run directories {counts}; listed by default: {len(listed)}")
    print(f"{'what':<36}{'median s':>10}{'min s':>10}")
    rows = (("list_runs (in process)", in_process), ("mltasks runs (fresh process)", command),
            ("mltasks --version (start-up only)", startup))
    for label, values in rows:
        print(f"{label:<36}{statistics.median(values):>10.3f}{min(values):>10.3f}")
    ok = statistics.median(command) < 1.0
    print(f"target: mltasks runs under 1 s: {'PASS' if ok else 'MISS'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
