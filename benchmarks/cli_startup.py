"""Start-up cost of the CLI: median wall time of ``mltasks list`` vs ``import click, pluggy``.

Run: ``python benchmarks/cli_startup.py [--runs 15]``. Target: ratio <= 2.0. Prints a
table and writes ``benchmarks/results/cli_startup.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "mltasks list": [sys.executable, "-m", "mltasks", "list"],
    "import click, pluggy": [sys.executable, "-c", "import click, pluggy"],
}


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    """Time both commands interleaved and report medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "cli_startup.json"))
    args = parser.parse_args()
    for cmd in COMMANDS.values():  # warm the file cache
        _time(cmd)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, cmd in COMMANDS.items():  # interleaved, so machine noise hits both alike
            samples[name].append(_time(cmd))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratio = medians["mltasks list"] / medians["import click, pluggy"]
    print(f"{'command':<24}{'median s':>10}{'min s':>10}")
    for name, values in samples.items():
        print(f"{name:<24}{medians[name]:>10.3f}{min(values):>10.3f}")
    print(f"ratio {ratio:.2f} (target <= 2.0): {'PASS' if ratio <= 2.0 else 'MISS'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "median_s": medians, "ratio": ratio, "target": 2.0,
                               "samples_s": samples}, indent=2) + "\n")


if __name__ == "__main__":
    main()
