"""Load test of ``mltasks serve`` as clients use it: one input per request, many clients at once.

For a text (TF-IDF) and an image run (and a speech run at 8 clients), each a fresh quick run:

1. **in-process batched**: ``task.predict`` called in this process on batches of the
   server's ``--max-batch-size`` (inputs/s, before and after the HTTP runs: the mean) — the
   ceiling the server's batching aims at — and on single inputs, what a server without
   batching would get at best;
2. **HTTP**: a real ``mltasks serve`` process on loopback with its default options, and 1, 8,
   32 and 64 concurrent clients, each sending one input per request on its own kept-alive
   connection as fast as answers come back (a closed loop) for ``--seconds`` (64 clients:
   ``--long-seconds``): requests/s, p50/p99 latency, errors (any non-200 answer or broken
   connection), the mean batch the server formed (from ``/metrics``), the CPU time the
   server's processes spent per request (and in-process CPU per input over it: the share in
   CPU time, which does not depend on what else the machine runs), and the server's RSS
   after a warm-up at 64 clients and at the end.

The client is a lean asyncio HTTP/1.1 client (bodies encoded once), so it takes little of
the CPU the server needs. ``--workers-check`` also serves the text run with ``--workers 1``
and ``--workers 2`` in turn at 32 clients (throughput, and the memory of all the processes).

Targets (issue 28): at 32 clients, requests/s >= 0.5 x in-process batched inputs/s for text
and image; 0 errors at 64 clients over 60 s; text p99 at 32 clients < 1 s; server RSS growth
< 10 %. Prints a table and writes ``benchmarks/results/serve.json``::

    nice -n 5 python benchmarks/serve.py                    # ~6 minutes on 2 cores
    python benchmarks/serve.py --seconds 5 --long-seconds 10 --tasks text   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import mltasks

CLIENTS = (1, 8, 32, 64)


# the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``mltasks serve RUN_DIR`` on a free loopback port, ready (``/health/ready``) when made."""

    def __init__(self, run_dir: Path, log: Path, *args: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "mltasks", "serve", str(run_dir), "--port",
                                          str(self.port), *args], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"mltasks serve exited {self.proc.returncode}:\n{log.read_text()}")
            try:
                urllib.request.urlopen(f"{self.base}/health/ready", timeout=2).close()
                # every worker ready (--workers N: the gauge is the minimum over the live workers)
                if self.metric("mltasks_serve_ready") == 1:
                    time.sleep(1.0)
                    if self.metric("mltasks_serve_ready") == 1:
                        return
                time.sleep(0.3)
            except OSError:
                if time.time() > deadline:
                    self.proc.kill()
                    raise SystemExit(f"mltasks serve was not ready in 300 s:\n{log.read_text()}") from None
                time.sleep(0.3)

    def pids(self) -> list[int]:
        """The server process and its children (``--workers N``)."""
        pids = [self.proc.pid]
        for pid in pids:  # children of every thread (a worker starts its model process from a thread)
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    pids += [int(p) for p in children.read_text().split()]
                except OSError:
                    pass
        return pids

    def rss_mb(self) -> float:
        """Resident memory of the server's processes, in MiB."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server's processes have used so far."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
            except (OSError, IndexError, ValueError):
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def metric(self, name: str) -> float:
        """The value of an unlabelled sample in ``/metrics`` (0 when absent)."""
        text = urllib.request.urlopen(f"{self.base}/metrics", timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


# the client ---------------------------------------------------------------------------------


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bool]:
    """Send one request and read its whole response: (status, whether the server closes)."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection before answering")
    length, close = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    await reader.readexactly(length)
    return int(status_line.split()[1]), close


async def _load(port: int, bodies: list[tuple[bytes, str]], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` closed-loop clients for ``seconds``, each on its own kept-alive connection."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    requests = [(f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {ctype}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n").encode() + body for body, ctype in bodies]
    end = time.perf_counter() + seconds

    async def client(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = i
        try:
            while time.perf_counter() < end:
                started = time.perf_counter()
                try:
                    status, close = await _exchange(reader, writer, requests[n % len(requests)])
                    if status != 200:
                        errors[f"HTTP {status}"] += 1
                except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                    errors[f"{type(exc).__name__}: {exc}"] += 1
                    close = True
                latencies.append(time.perf_counter() - started)
                n += clients
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {"clients": clients, "seconds": round(wall, 2), "requests": n, "requests_per_s": n / wall,
            "p50_ms": 1000 * latencies[n // 2], "p99_ms": 1000 * latencies[min(n - 1, int(0.99 * n))],
            "errors": sum(errors.values()), "error_kinds": dict(errors.most_common(5))}


def _encoded(**kwargs: Any) -> tuple[bytes, str]:
    """A request body encoded once (JSON or multipart) and its content type."""
    import httpx

    request = httpx.Request("POST", "http://x/v1/predict", **kwargs)
    return request.read(), request.headers["content-type"]


# the measurements ---------------------------------------------------------------------------


def in_process(run_dir: Path, inputs: list[Any], batch: int, seconds: float) -> tuple[float, float]:
    """Inputs/s of ``task.predict`` in this process on batches of ``batch`` inputs, and the CPU
    milliseconds it spent per input."""
    task = mltasks.load_run(run_dir)
    task.predict(inputs[:batch])  # warm-up
    done, i, started, cpu = 0, 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds or i < 3:
        chunk = [inputs[(i * batch + j) % len(inputs)] for j in range(batch)]
        task.predict(chunk)
        done += len(chunk)
        i += 1
    return done / (time.perf_counter() - started), 1000 * (time.process_time() - cpu) / done


def serve_levels(run_dir: Path, bodies: list[tuple[bytes, str]], levels: list[int], seconds: float,
                 long_seconds: float, log: Path, *args: str) -> dict[str, Any]:
    """Start the server, run each concurrency level, stop it with SIGTERM."""
    server = Server(run_dir, log, *args)
    try:
        # warm-up: connections, caches, and the memory of full batches, before the RSS baseline
        asyncio.run(_load(server.port, bodies, 64, 3.0))
        rss_before = server.rss_mb()
        rows = []
        for clients in levels:
            batches0, inputs0 = server.metric("mltasks_serve_batch_size_count"), server.metric(
                "mltasks_serve_batch_size_sum")
            cpu0 = server.cpu_s()
            row = asyncio.run(_load(server.port, bodies, clients, long_seconds if clients == 64 else seconds))
            row["server_cpu_ms_per_request"] = 1000 * (server.cpu_s() - cpu0) / max(1, row["requests"])
            batches = server.metric("mltasks_serve_batch_size_count") - batches0
            row["mean_batch"] = (server.metric("mltasks_serve_batch_size_sum") - inputs0) / batches if batches else 0
            rows.append(row)
            print(f"  {clients:>3} clients: {row['requests_per_s']:7.1f} req/s  p50 {row['p50_ms']:7.1f} ms  "
                  f"p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}  mean batch {row['mean_batch']:.1f}  "
                  f"server CPU {row['server_cpu_ms_per_request']:.2f} ms/request",
                  flush=True)
        rss_after = server.rss_mb()
    finally:
        status = server.stop()
    return {"levels": rows, "rss_mb_before": rss_before, "rss_mb_after": rss_after,
            "rss_growth": rss_after / rss_before - 1, "exit_status_on_sigterm": status, "server_args": list(args)}


def workers_check(run_dir: Path, bodies: list[tuple[bytes, str]], seconds: float, work: Path,
                  *args: str) -> dict[str, Any]:
    """The same run served with ``--workers 1`` and ``--workers 2`` in turn, 32 clients each."""
    out = {}
    for workers in (1, 2):
        print(f"text, --workers {workers}:", flush=True)
        out[f"workers_{workers}"] = serve_levels(run_dir, bodies, [32], seconds, seconds, work / f"w{workers}.log",
                                                 "--workers", str(workers), *args)
    return out


def _text(work: Path) -> tuple[Path, list[Any], list[tuple[bytes, str]]]:
    result = mltasks.run("text", overrides={"model": "tfidf", "num_threads": 1}, out=work / "text")
    texts = list(result.task.load_data(None).scored()[0].texts)
    return result.run_dir, texts, [_encoded(json={"inputs": [t]}) for t in texts]


def _files(name: str, work: Path, suffixes: tuple[str, ...]) -> tuple[Path, list[Any], list[tuple[bytes, str]]]:
    (work / f"{name}-data").mkdir()
    source = Path(mltasks.get_task(name).sample_data(work / f"{name}-data"))
    result = mltasks.run(name, data=source, quick=True, overrides={"num_threads": 1}, out=work / name)
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in suffixes)
    return result.run_dir, [str(p) for p in files], [_encoded(files=[("files", (p.name, p.read_bytes()))])
                                                     for p in files]


def main() -> None:
    """Measure, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="text,image,speech", help="comma-separated: text, image, speech")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per concurrency level")
    parser.add_argument("--long-seconds", type=float, default=60.0, help="seconds at 64 clients")
    parser.add_argument("--batch", type=int, default=32, help="the server's --max-batch-size default")
    parser.add_argument("--workers-check", action="store_true", help="also text with --workers 1 and 2 at 32 clients")
    parser.add_argument("--serve-arg", action="append", default=[], help="extra mltasks serve argument")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "serve.json"))
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                                          f"{platform.python_version()}", "load_average_at_start": os.getloadavg()[0],
                               "seconds": args.seconds,
                               "long_seconds": args.long_seconds, "max_batch_size": args.batch, "tasks": {}}
    with tempfile.TemporaryDirectory(prefix="mltasks-serve-bench-") as tmp:
        work = Path(tmp)
        for name in tasks:
            if name == "text":
                run_dir, inputs, bodies = _text(work)
                levels = list(CLIENTS)
            elif name == "image":
                run_dir, inputs, bodies = _files("image", work, (".png", ".jpg", ".jpeg"))
                levels = list(CLIENTS)
            else:
                run_dir, inputs, bodies = _files("speech", work, (".wav",))
                levels = [8]
            print(f"{name}: in-process predict ...", flush=True)
            batched, cpu = in_process(run_dir, inputs, args.batch, args.seconds / 2)
            single, _ = in_process(run_dir, inputs, 1, args.seconds / 2)
            print(f"  batched {batched:.1f} inputs/s, single {single:.1f}/s; HTTP, one input per request:", flush=True)
            entry: dict[str, Any] = serve_levels(run_dir, bodies, levels, args.seconds, args.long_seconds,
                                                 work / f"{name}.log", *args.serve_arg)
            # the machine's load may change meanwhile: the ceiling is measured before and after
            after, cpu_after = in_process(run_dir, inputs, args.batch, args.seconds / 2)
            print(f"  in-process batched again: {after:.1f} inputs/s", flush=True)
            entry.update({"in_process_batched_inputs_per_s": (batched + after) / 2,
                          "in_process_batched_runs": [batched, after],
                          "in_process_cpu_ms_per_input": (cpu + cpu_after) / 2,
                          "in_process_single_inputs_per_s": single})
            for row in entry["levels"]:
                row["share_of_in_process_batched"] = row["requests_per_s"] / entry["in_process_batched_inputs_per_s"]
                # the same ratio in CPU time: independent of what else the machine runs
                row["cpu_share"] = entry["in_process_cpu_ms_per_input"] / row["server_cpu_ms_per_request"]
            results["tasks"][name] = entry
            if name == "text" and args.workers_check:
                results["workers_check"] = workers_check(run_dir, bodies, args.seconds, work, *args.serve_arg)
    results["load_average_at_end"] = os.getloadavg()[0]  # what else ran: the machine may be shared
    results["targets"] = _targets(results)
    _print(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


def _targets(results: dict[str, Any]) -> dict[str, Any]:
    """Each target of issue 28 with its measured value and whether it is met."""
    out: dict[str, Any] = {}
    for name, entry in results["tasks"].items():
        by = {row["clients"]: row for row in entry["levels"]}
        if 32 in by:
            out[f"{name}_share_at_32"] = {"value": by[32]["share_of_in_process_batched"], "target": ">= 0.5",
                                          "met": by[32]["share_of_in_process_batched"] >= 0.5}
        if 64 in by:
            out[f"{name}_errors_at_64"] = {"value": by[64]["errors"], "target": 0, "met": by[64]["errors"] == 0}
        if name == "text" and 32 in by:
            out["text_p99_ms_at_32"] = {"value": by[32]["p99_ms"], "target": "< 1000", "met": by[32]["p99_ms"] < 1000}
        out[f"{name}_rss_growth"] = {"value": entry["rss_growth"], "target": "< 0.10", "met": entry["rss_growth"] < 0.1}
    return out


def _print(results: dict[str, Any]) -> None:
    print(f"\n{'task':<8}{'clients':>8}{'req/s':>9}{'share':>7}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'batch':>7}{'CPU ms':>8}{'CPU share':>10}")
    for name, entry in results["tasks"].items():
        print(f"{name:<8}{'in-proc':>8}{entry['in_process_batched_inputs_per_s']:>9.1f}{'':>53}"
              f"{entry['in_process_cpu_ms_per_input']:>8.2f}   (batches of {results['max_batch_size']}; single "
              f"inputs {entry['in_process_single_inputs_per_s']:.1f}/s)")
        for row in entry["levels"]:
            print(f"{'':<8}{row['clients']:>8}{row['requests_per_s']:>9.1f}{row['share_of_in_process_batched']:>7.2f}"
                  f"{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['errors']:>8}{row['mean_batch']:>7.1f}"
                  f"{row['server_cpu_ms_per_request']:>8.2f}{row['cpu_share']:>10.2f}")
        print(f"{'':<8}RSS {entry['rss_mb_before']:.0f} -> {entry['rss_mb_after']:.0f} MiB "
              f"({100 * entry['rss_growth']:+.1f} %); SIGTERM exit {entry['exit_status_on_sigterm']}")
    for key, w in results.get("workers_check", {}).items():
        row = w["levels"][0]
        print(f"text --{key.replace('_', ' ')}, 32 clients: {row['requests_per_s']:.1f} req/s, p99 "
              f"{row['p99_ms']:.0f} ms, RSS {w['rss_mb_before']:.0f} MiB (all processes)")
    print()
    print(chart(results))
    print("targets: " + "; ".join(f"{k} {v['value']:.3g} ({v['target']}) {'PASS' if v['met'] else 'MISS'}"
                                  for k, v in results["targets"].items()))


def chart(results: dict[str, Any], width: int = 40) -> str:
    """Requests/s per number of clients as text bars, against in-process batched inputs/s (``|``):
    the README's chart."""
    lines = []
    for name, entry in results["tasks"].items():
        ceiling = entry["in_process_batched_inputs_per_s"]
        top = max([ceiling, *(row["requests_per_s"] for row in entry["levels"])])
        lines.append(f"{name}: requests/s, one input each (| = in-process batched, {ceiling:.0f} inputs/s)")
        for row in entry["levels"]:
            bar = "#" * round(width * row["requests_per_s"] / top)
            mark = round(width * ceiling / top)
            cells = bar.ljust(width + 1)
            cells = cells[:mark] + "|" + cells[mark + 1:] if mark < len(cells) else cells
            lines.append(f"  {row['clients']:>3} clients {cells} {row['requests_per_s']:.0f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
