"""Load test of ``mltasks serve``: requests/s, p50/p99 latency and errors for a text (TF-IDF)
run and an image run, and served throughput over calling ``task.predict`` in-process on the
same inputs.

Run: ``nice -n 10 python benchmarks/serve.py [--text-requests 2000] [--image-requests 200]
[--concurrency 16] [--image-batch 16]``. Each run is a fresh smoke run served by a real
``mltasks serve`` process on loopback. The client is a lean asyncio HTTP/1.1 client sending
bodies encoded once (with httpx), bounded to the given number of requests. Targets: 0
errors; served/in-process >= 0.5 for batched image requests. Prints a table and writes
``benchmarks/results/serve.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import mltasks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(run_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mltasks", "serve", str(run_dir), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"mltasks serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(f"{base}/health", timeout=2).close()
            return proc, base
        except OSError:
            if time.time() > deadline:
                proc.kill()
                raise SystemExit(f"mltasks serve did not start:\n{log.read_text()}") from None
            time.sleep(0.3)


def _encoded(**kwargs: Any) -> tuple[bytes, str]:
    """A request body encoded once (JSON or multipart), so the load generator spends little CPU."""
    import httpx

    request = httpx.Request("POST", "http://x/v1/predict", **kwargs)
    return request.read(), request.headers["content-type"]


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes) -> int:
    """One HTTP/1.1 request on a kept-alive connection; the response body is read and dropped."""
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _load(base: str, requests: list[tuple[bytes, str]], concurrency: int) -> dict[str, Any]:
    """Send every request (at most ``concurrency`` in flight, one kept-alive connection each).

    A lean asyncio HTTP/1.1 client (like ``wrk``), so the load generator takes little of the
    CPU the server needs; latency per request, non-200 answers and broken connections counted.
    """
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors: list[str] = []
    queue = iter(requests)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for body, ctype in queue:
                head = (f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()
                start = time.perf_counter()
                try:
                    status = await _post(reader, writer, head, body)
                    if status != 200:
                        errors.append(f"HTTP {status}")
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "wall_s": wall, "requests_per_s": len(latencies) / wall,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "errors": len(errors), "first_errors": errors[:3]}


def _in_process(run_dir: Path, batches: list[list[Any]], seconds: float = 20.0) -> float:
    """Inputs per second of ``task.predict`` called in this process on the same batches, in turn."""
    task = mltasks.load_run(run_dir)
    task.predict(batches[0])  # warm-up
    done, started, i = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds or i < 3:
        batch = batches[i % len(batches)]
        task.predict(batch)
        done += len(batch)
        i += 1
    return done / (time.perf_counter() - started)


def _bench(name: str, run_dir: Path, requests: list[tuple[bytes, str]], batches: list[list[Any]],
           concurrency: int, work: Path) -> dict[str, Any]:
    proc, base = _start(run_dir, work / f"{name}-serve.log")
    try:
        asyncio.run(_load(base, requests[: concurrency * 2], concurrency))  # warm-up
        served = asyncio.run(_load(base, requests, concurrency))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    per_request = sum(len(b) for b in batches) / len(batches)
    served["inputs_per_request"] = per_request
    served["served_inputs_per_s"] = served["requests_per_s"] * per_request
    served["in_process_inputs_per_s"] = _in_process(run_dir, batches)
    served["served_over_in_process"] = served["served_inputs_per_s"] / served["in_process_inputs_per_s"]
    return served


def main() -> None:
    """Make a text and an image run, load-test each served, print a table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--text-requests", type=int, default=2000)
    parser.add_argument("--image-requests", type=int, default=200)
    parser.add_argument("--image-batch", type=int, default=16, help="images per image request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "serve.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {"concurrency": args.concurrency}
    with tempfile.TemporaryDirectory(prefix="mltasks-serve-bench-") as tmp:
        work = Path(tmp)
        text = mltasks.run("text", overrides={"model": "tfidf", "num_threads": 1}, out=work / "text")
        texts = list(text.task.example_inputs(text.task.load_data(None).scored()[0]))
        batches = [[t] for t in texts]
        bodies = [_encoded(json={"inputs": b}) for b in batches]
        requests = [bodies[i % len(bodies)] for i in range(args.text_requests)]
        results["text_tfidf"] = _bench("text", text.run_dir, requests, batches, args.concurrency, work)

        (work / "images").mkdir()
        source = mltasks.get_task("image").sample_data(work / "images")
        image = mltasks.run("image", data=source, quick=True, overrides={"num_threads": 1}, out=work / "image")
        files = sorted(p for p in Path(source).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        batches = [[str(files[(i + j) % len(files)]) for j in range(args.image_batch)] for i in range(len(files))]
        blobs = {str(p): p.read_bytes() for p in files}
        bodies = [_encoded(files=[("files", (Path(p).name, blobs[p])) for p in b]) for b in batches]
        requests = [bodies[i % len(bodies)] for i in range(args.image_requests)]
        results["image_batched"] = _bench("image", image.run_dir, requests, batches, args.concurrency, work)
    print(f"{'run':<14}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'served in/s':>13}{'in-proc in/s':>14}{'ratio':>7}")
    for name in ("text_tfidf", "image_batched"):
        r = results[name]
        print(f"{name:<14}{r['requests']:>9}{r['requests_per_s']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
              f"{r['errors']:>8}{r['served_inputs_per_s']:>13.1f}{r['in_process_inputs_per_s']:>14.1f}"
              f"{r['served_over_in_process']:>7.2f}")
    ok = all(results[n]["errors"] == 0 for n in ("text_tfidf", "image_batched"))
    ratio = results["image_batched"]["served_over_in_process"]
    print(f"errors 0: {'PASS' if ok else 'MISS'}; image served/in-process {ratio:.2f} (target >= 0.5): "
          f"{'PASS' if ratio >= 0.5 else 'MISS'}")
    results["targets"] = {"errors": 0, "image_served_over_in_process": 0.5}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
