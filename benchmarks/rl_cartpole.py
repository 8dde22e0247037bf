"""Benchmark of the rl task: PPO on CartPole-v1 (quality and overhead) and Acrobot-v1 (quality).

    python benchmarks/rl_cartpole.py                 # 100k steps x 3 seeds + Acrobot (long: ~30+ min on 2 cores)
    python benchmarks/rl_cartpole.py --quick         # 5k steps, 1 seed: checks that the script works

Targets: mean evaluation return >= 475 for each CartPole seed (the zoo reports 500
at 1e5 steps); the wall time of ``mltasks run rl`` <= 1.10 x the same training written
directly against stable-baselines3 (runs interleaved, same seed and hyperparameters, one
torch thread each); Acrobot-v1 with PPO >= -100. Prints a table and writes
``benchmarks/results/rl_cartpole.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "rl_cartpole.json"

# The same training written directly against SB3: the zoo's CartPole-v1 PPO setting.
DIRECT = r"""
import json, sys, time
t0 = time.time()
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
torch.set_num_threads(1)
seed, steps = int(sys.argv[1]), int(sys.argv[2])
lin = lambda start: (lambda progress: start * progress)
env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
model = PPO("MlpPolicy", env, seed=seed, device="cpu", n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
            n_epochs=20, ent_coef=0.0, learning_rate=lin(1e-3), clip_range=lin(0.2), verbose=0)
t1 = time.time()
model.learn(total_timesteps=steps)
train_s = time.time() - t1
mean, std = evaluate_policy(model, make_vec_env("CartPole-v1", n_envs=1, seed=seed + 1_000_000),
                            n_eval_episodes=20, deterministic=True)
model.save(sys.argv[3])
print("RESULT " + json.dumps({"train_s": train_s, "mean_return": mean, "std_return": std}))
"""


def run_mltasks(env: str, seed: int, steps: int, extra: list[str]) -> dict:
    """``mltasks run rl`` as a subprocess; wall time, train time and test metrics."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "mltasks", "run", "rl", "--data", env, "--seed", str(seed), "--out", str(out),
               "--set", "num_threads=1", f"timesteps={steps}", *extra]
        t0 = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.time() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        metrics = json.loads((out / "metrics.json").read_text())["metrics"]
        timings = json.loads((out / "run.json").read_text())["timings"]
    return {"wall_s": wall, "train_s": timings["train_s"], **metrics}


def run_direct(seed: int, steps: int) -> dict:
    """The SB3-only script as a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-c", DIRECT, str(seed), str(steps), str(Path(tmp) / "ppo.zip")],
                              capture_output=True, text=True)
        wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"direct SB3 run failed:\n{proc.stderr[-2000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return {"wall_s": wall, **json.loads(line[len("RESULT "):])}


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5k steps, one seed, short Acrobot run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--acrobot-steps", type=int, default=200_000)
    parser.add_argument("--skip-acrobot", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.steps, args.acrobot_steps = args.seeds[:1], 5_000, 5_000
    rows = []
    for i, seed in enumerate(args.seeds):
        # interleave, alternating which goes first, so load from other processes hits both alike
        order = ["mltasks", "direct"] if i % 2 == 0 else ["direct", "mltasks"]
        result = {}
        for which in order:
            result[which] = (run_mltasks("CartPole-v1", seed, args.steps, []) if which == "mltasks"
                             else run_direct(seed, args.steps))
            print(f"seed {seed} {which}: {json.dumps(result[which])}", file=sys.stderr, flush=True)
        rows.append({"seed": seed, "mltasks": result["mltasks"], "direct": result["direct"]})
    acrobot = None
    if not args.skip_acrobot:
        acrobot = run_mltasks("Acrobot-v1", 0, args.acrobot_steps, [])
        print(f"acrobot: {json.dumps(acrobot)}", file=sys.stderr, flush=True)

    wall_ratio = sum(r["mltasks"]["wall_s"] for r in rows) / sum(r["direct"]["wall_s"] for r in rows)
    train_ratio = sum(r["mltasks"]["train_s"] for r in rows) / sum(r["direct"]["train_s"] for r in rows)
    print(f"\nPPO on CartPole-v1, {args.steps} steps (zoo hyperparameters, 8 envs, 1 torch thread)")
    print(f"{'seed':>4} | {'mltasks return':>15} | {'SB3 return':>10} | {'mltasks wall s':>14} | "
          f"{'SB3 wall s':>10} | {'mltasks train s':>15} | {'SB3 train s':>11}")
    for r in rows:
        m, d = r["mltasks"], r["direct"]
        print(f"{r['seed']:>4} | {m['mean_return']:>8.1f} ± {m['std_return']:<4.1f} | {d['mean_return']:>10.1f} | "
              f"{m['wall_s']:>14.1f} | {d['wall_s']:>10.1f} | {m['train_s']:>15.1f} | {d['train_s']:>11.1f}")
    print(f"wall-time ratio mltasks/SB3: {wall_ratio:.3f} (target <= 1.10); training-only ratio: {train_ratio:.3f}")
    quality_ok = all(r["mltasks"]["mean_return"] >= 475 for r in rows)
    print(f"every seed >= 475: {quality_ok}")
    if acrobot:
        print(f"Acrobot-v1 PPO {args.acrobot_steps} steps: mean return {acrobot['mean_return']:.1f} "
              f"± {acrobot['std_return']:.1f} (target >= -100), wall {acrobot['wall_s']:.0f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "rl_cartpole", "quick": args.quick, "steps": args.steps, "cartpole": rows,
        "wall_ratio": wall_ratio, "train_ratio": train_ratio, "cartpole_target_met": quality_ok,
        "speed_target_met": wall_ratio <= 1.10,
        "acrobot": None if acrobot is None else {"algo": "ppo", "steps": args.acrobot_steps, **acrobot,
                                                  "target_met": acrobot["mean_return"] >= -100},
    }, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
