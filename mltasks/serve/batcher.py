"""Dynamic batching across requests: one asyncio queue per model, one worker draining it.

Requests put *jobs* (a request's inputs, in chunks of at most ``max_batch_size``) on the
queue and await a future. The worker takes the oldest job and gathers the jobs waiting
behind it that may share its ``predict`` call (same options: same ``key``) until the batch
holds as many inputs as recent batches did (at most ``max_batch_size``: a lone client is
not kept waiting for company that never comes), or ``max_batch_wait_ms`` have passed since
the oldest job arrived (Triton's max queue delay, LitServe's ``batch_timeout``). It runs
the batch in its own thread, so the event loop keeps reading requests while the model
works, and resolves each job's future with its own results.

The queue is bounded in inputs: a request that does not fit is refused at once with
:class:`QueueFull` (HTTP 503 with ``Retry-After``), never queued without bound. A request
that times out while waiting leaves the queue (its future is cancelled; the worker skips it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("mltasks.serve")

#: ``execute(payloads) -> results``: one result (or the exception it raised) per payload, in order.
Execute = Callable[[Sequence[Any]], Sequence[Any]]


class QueueFull(Exception):
    """The queue cannot take the request now.

    :param retry_after: seconds after which the queue has probably drained (``Retry-After``).
    """

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Job:
    """One unit of queued work.

    :param payload: what ``execute`` gets for this job.
    :param size: the inputs it holds (what the queue bound and ``max_batch_size`` count).
    :param key: jobs with equal keys may share one ``predict`` call; ``None``: the job runs alone.
    """

    payload: Any
    size: int
    key: Hashable | None
    future: asyncio.Future[Any]
    arrived: float = field(default_factory=time.monotonic)


@dataclass
class Observer:
    """Callbacks the batcher reports to (the Prometheus metrics); each may be left out."""

    batch: Callable[[int, float], None] = lambda size, seconds: None
    depth: Callable[[int], None] = lambda inputs: None


class Batcher:
    """The queue and worker of one model.

    :param execute: runs a batch of payloads in the worker thread (see :data:`Execute`).
    :param max_batch_size: inputs per batch.
    :param max_wait_s: how long the oldest job may wait for others to join it.
    :param max_queue: the most inputs waiting at once; beyond it :meth:`put` raises :class:`QueueFull`.
    :param observer: where batch sizes, durations and the queue depth go.
    """

    def __init__(self, execute: Execute, *, max_batch_size: int, max_wait_s: float, max_queue: int,
                 observer: Observer | None = None) -> None:
        self.execute = execute
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.observer = observer or Observer()
        self.pending: deque[Job] = deque()
        self.depth = 0  # inputs in self.pending
        self.recent: deque[int] = deque(maxlen=8)  # inputs in the last batches (see :meth:`target`)
        self.rate = 0.0  # inputs/s of recent batches (an average), for Retry-After
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mltasks-predict")
        self._closing = False
        self._busy = False

    # the request side -----------------------------------------------------------------

    def put(self, payloads: Sequence[tuple[Any, int, Hashable | None]]) -> list[Job]:
        """Queue one request's jobs, ``(payload, size, key)`` each: all of them or none.

        :raises QueueFull: the jobs do not fit in the queue, or the server is shutting down.
        """
        self.start()
        size = sum(s for _, s, _ in payloads)
        if self._closing:
            raise QueueFull("the server is shutting down", retry_after=5)
        if self.depth and self.depth + size > self.max_queue:
            raise QueueFull(f"the queue is full ({self.depth} inputs waiting, limit {self.max_queue}; "
                            "mltasks serve --max-queue)", retry_after=self.retry_after())
        loop = asyncio.get_running_loop()
        jobs = [Job(p, s, k, loop.create_future()) for p, s, k in payloads]
        self.pending.extend(jobs)
        self._set_depth(self.depth + size)
        assert self._wake is not None
        self._wake.set()
        return jobs

    async def wait(self, jobs: Sequence[Job]) -> list[Any]:
        """The results of ``jobs`` (from :meth:`put`), in order; the first failure is raised.

        Cancelled (a request timeout) or failed, the request's other jobs leave the queue.
        """
        try:
            if len(jobs) == 1:
                return [await jobs[0].future]
            return list(await asyncio.gather(*(job.future for job in jobs)))
        except BaseException:
            for job in jobs:
                job.future.cancel()
            self._drop_cancelled()
            raise

    async def run_alone(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` in the model's thread, between batches (the warm-up prediction)."""
        self.start()
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def target(self) -> int:
        """The batch size worth waiting for: the largest of the last few batches (at most
        ``max_batch_size``). One client at a time gets batches of one at once; many clients get
        full batches, the wait bounded by ``max_wait_s``."""
        return min(self.max_batch_size, max(self.recent, default=1))

    def retry_after(self) -> int:
        """Seconds until the queue has probably drained, at the recent rate (at least 1)."""
        if self.rate <= 0:
            return 1
        return max(1, min(60, math.ceil(self.depth / self.rate)))

    # the worker -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker on the running loop (once; again on a new loop, which only a test
        client that runs each request in its own loop makes: what waited on the old one is gone)."""
        loop = asyncio.get_running_loop()
        if self._worker is not None and not self._worker.done() and self._worker.get_loop() is loop:
            return
        if self._worker is not None and self._worker.get_loop() is not loop:
            self.pending.clear()
            self._set_depth(0)
        self._wake = asyncio.Event()
        self._worker = loop.create_task(self._run(), name="mltasks-batcher")

    async def close(self, timeout: float = 30.0) -> None:
        """Refuse new requests, let the queued ones finish (at most ``timeout`` s), stop the worker."""
        self._closing = True
        deadline = time.monotonic() + timeout
        while (self.pending or self._busy) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self.pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = await self._gather()
            if not batch:
                continue
            self._busy = True
            started = time.monotonic()
            try:
                results: Sequence[Any] = await loop.run_in_executor(
                    self._thread, self.execute, [job.payload for job in batch])
            except Exception as exc:  # execute itself failed: every job gets the error
                results = [exc] * len(batch)
            finally:
                self._busy = False
            seconds = time.monotonic() - started
            inputs = sum(job.size for job in batch)
            self.recent.append(inputs)
            self._record(inputs, seconds)
            for job, result in zip(batch, results):
                if job.future.done():  # timed out meanwhile
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)

    async def _gather(self) -> list[Job]:
        """The oldest job and the waiting jobs that may join it; waits for more while it may."""
        assert self._wake is not None
        head = self.pending[0]
        while True:
            batch = self._compatible(head)
            size = sum(job.size for job in batch)
            left = head.arrived + self.max_wait_s - time.monotonic()
            if head.key is None or size >= self.target() or left <= 0:
                break
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)
            if head.future.done():  # the oldest one gave up waiting
                self._drop_cancelled()
                return []
        if all(a is b for a, b in zip(batch, self.pending)):  # the usual case: the oldest jobs
            for _ in batch:
                self.pending.popleft()
        else:
            taken = {id(job) for job in batch}
            self.pending = deque(job for job in self.pending if id(job) not in taken)
        self._set_depth(self.depth - size)
        return batch

    def _compatible(self, head: Job) -> list[Job]:
        if head.key is None:
            return [head]
        batch, size = [], 0
        for job in self.pending:
            if job.key == head.key and not job.future.done() and size + job.size <= self.max_batch_size:
                batch.append(job)
                size += job.size
                if size >= self.max_batch_size:
                    break
        return batch

    def _drop_cancelled(self) -> None:
        gone = [job for job in self.pending if job.future.done()]
        if gone:
            self.pending = deque(job for job in self.pending if not job.future.done())
            self._set_depth(self.depth - sum(job.size for job in gone))

    def _set_depth(self, depth: int) -> None:
        self.depth = depth
        self.observer.depth(depth)

    def _record(self, inputs: int, seconds: float) -> None:
        if seconds > 0:
            now = inputs / seconds
            self.rate = now if self.rate <= 0 else 0.8 * self.rate + 0.2 * now
        self.observer.batch(inputs, seconds)
