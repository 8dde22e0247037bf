"""Benchmark of the rl task's defaults on every kind of space: one default ``mltasks run rl`` per
environment (the CPU budget of its family), recording the test returns and the wall time.

    python benchmarks/rl_spaces.py                  # six envs at their default budgets (~10-30 min on 2 cores)
    python benchmarks/rl_spaces.py --envs Taxi-v4   # some of them
    python benchmarks/rl_spaces.py --quick          # smoke runs: checks that the script works

The envs cover Discrete observations (FrozenLake, Taxi, CliffWalking), a Tuple observation
(Blackjack), Box actions (Pendulum) and a Discrete-action classic-control env (Acrobot). Prints a
table and writes ``benchmarks/results/rl.json`` (with the command, machine and date).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "rl.json"
ENVS = ("FrozenLake-v1", "Taxi-v4", "CliffWalking-v1", "Blackjack-v1", "Pendulum-v1", "Acrobot-v1")


def run_one(env_id: str, quick: bool, threads: int) -> dict:
    """One default run of ``env_id`` as a user types it; its test metrics, steps and wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "-m", "mltasks", "run", "rl", "--data", env_id, "--out", str(out),
                   "--set", f"num_threads={threads}", *(["--quick"] if quick else [])]
        started = time.time()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.time() - started
        if done.returncode != 0:
            return {"env": env_id, "error": done.stderr.strip().splitlines()[-1:], "wall_s": round(wall, 1)}
        metrics = json.loads((out / "metrics.json").read_text())["metrics"]
        plan = json.loads((out / "run.json").read_text()).get("data", {}).get("info", {}).get("hyperparameters", {})
    return {"env": env_id, "mean_return": metrics.get("mean_return"), "std_return": metrics.get("std_return"),
            "success_rate": metrics.get("success_rate"), "timesteps": plan.get("timesteps"),
            "algo": plan.get("algo"), "wall_s": round(wall, 1)}


def main() -> None:
    """Run the envs one after another, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="*", default=list(ENVS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    rows = []
    for env_id in args.envs:
        row = run_one(env_id, args.quick, args.threads)
        rows.append(row)
        print(f"{row['env']:<16} {row.get('algo') or '-':<4} {row.get('timesteps') or '-':>8} "
              f"return {row.get('mean_return')!s:>10}  success {row.get('success_rate')!s:>6}  "
              f"{row['wall_s']:>7.1f} s  {row.get('error') or ''}", flush=True)
    result = {"benchmark": "rl default budgets on every space kind", "quick": args.quick,
              "command": " ".join(["python", "benchmarks/rl_spaces.py", *sys.argv[1:]]),
              "machine": f"{os.cpu_count()} cores, {platform.platform()}", "threads": args.threads,
              "load_average_at_start": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d"),
              "envs": rows, "all_evaluated": all(r.get("mean_return") is not None for r in rows)}
    if not args.quick or args.out != str(RESULTS):
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"all_evaluated": result["all_evaluated"]}))


if __name__ == "__main__":
    main()
