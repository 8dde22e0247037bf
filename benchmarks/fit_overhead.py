"""Overhead of the shared torch engine: ``mltasks.torch.fit`` vs a hand-written torch loop.

Both train the same MLP on the same synthetic tensors with the same batch size, optimizer
(AdamW), cosine schedule, gradient clipping and one validation pass per epoch, on the CPU
with one thread. The figure is the median epoch time of each, and their ratio (target <= 1.10).

    python benchmarks/fit_overhead.py            # prints a table, writes benchmarks/results/fit_overhead.json
    python benchmarks/fit_overhead.py --quick
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from mltasks.torch import FitConfig, fit

RESULTS = Path(__file__).parent / "results" / "fit_overhead.json"


def data(n: int, seed: int) -> TensorDataset:
    """``n`` examples of 64 features in 10 classes (a noisy linear rule)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 64, generator=g)
    w = torch.randn(64, 10, generator=g)
    return TensorDataset(x, (x @ w + 0.5 * torch.randn(n, 10, generator=g)).argmax(1))


def model() -> torch.nn.Module:
    """A 64-256-256-10 MLP, the same initial weights every time."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                               torch.nn.ReLU(), torch.nn.Linear(256, 10))


def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the batch."""
    x, y = batch
    return F.cross_entropy(net(x), y)


def plain_loop(train: TensorDataset, val: TensorDataset, epochs: int, batch_size: int) -> list[float]:
    """The hand-written loop: the per-epoch seconds."""
    net = model()
    generator = torch.Generator().manual_seed(0)
    loader = DataLoader(train, batch_size=batch_size, sampler=RandomSampler(train, generator=generator))
    val_loader = DataLoader(val, batch_size=batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    total = epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    times = []
    for _ in range(epochs):
        began = time.perf_counter()
        net.train()
        running = 0.0
        for x, y in loader:
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item()
        net.eval()
        val_loss = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                val_loss += F.cross_entropy(net(x), y, reduction="sum").item()
        times.append(time.perf_counter() - began)
    return times


def engine(train: TensorDataset, val: TensorDataset, epochs: int, batch_size: int) -> list[float]:
    """The same training through ``mltasks.torch.fit``: the per-epoch seconds it records."""
    cfg = FitConfig(epochs=epochs, batch_size=batch_size, lr=1e-3, optimizer="adamw", scheduler="cosine",
                    grad_clip=1.0, device="cpu", seed=0)
    result = fit(model(), train, val, loss_fn=loss_fn, config=cfg)
    return [h["seconds"] for h in result.history]


def main() -> None:
    """Run both loops a few times, interleaved; print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer repeats")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, epochs, repeats, batch_size = (4096, 3, 2, 64) if args.quick else (16384, 4, 3, 64)
    train, val = data(n, 0), data(n // 4, 1)
    engine(train, val, 1, batch_size)  # warm-up: first-call costs out of the figures
    plain_loop(train, val, 1, batch_size)
    runs: dict[str, list[float]] = {"plain": [], "engine": []}
    for _ in range(repeats):  # interleaved so that machine load hits both alike
        runs["plain"] += plain_loop(train, val, epochs, batch_size)
        runs["engine"] += engine(train, val, epochs, batch_size)
    plain, fitted = statistics.median(runs["plain"]), statistics.median(runs["engine"])
    ratio = fitted / plain
    rows = [("plain torch loop", plain, 1.0), ("mltasks.torch.fit", fitted, ratio)]
    print(f"{n} examples x 64 features, MLP 64-256-256-10, batch {batch_size}, {epochs} epochs x {repeats} runs, "
          f"CPU 1 thread (torch {torch.__version__})")
    print(f"{'loop':<20} {'median epoch s':>15} {'ratio':>7}")
    for name, seconds, r in rows:
        print(f"{name:<20} {seconds:>15.4f} {r:>7.3f}")
    verdict = "PASS" if ratio <= 1.10 else "FAIL"
    print(f"overhead ratio {ratio:.3f} (target <= 1.10): {verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "fit_overhead", "examples": n, "batch_size": batch_size, "epochs": epochs, "repeats": repeats,
        "threads": 1, "device": "cpu", "torch": torch.__version__, "python": platform.python_version(),
        "median_epoch_seconds": {"plain": plain, "engine": fitted}, "epoch_seconds": runs,
        "ratio": ratio, "target": 1.10, "passed": ratio <= 1.10}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
