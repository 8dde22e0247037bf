"""``GET /metrics``: the server's Prometheus metrics (``prometheus-client``).

::

    mltasks_serve_requests_total{endpoint,status}       requests answered
    mltasks_serve_request_duration_seconds{endpoint}    latency, arrival to the last byte sent
    mltasks_serve_batch_size                            inputs per predict call
    mltasks_serve_batch_duration_seconds                seconds per predict call
    mltasks_serve_queue_depth                           inputs waiting for the model
    mltasks_serve_model_load_seconds                    how long loading the run took
    mltasks_serve_ready                                 1 once the warm-up prediction ran

Each app has its own registry, so several apps (tests, mounted apps) never clash. Under
``--workers N`` the command points ``PROMETHEUS_MULTIPROC_DIR`` at a private folder and
every worker's numbers are summed (gauges: the queue depth summed over live workers, the
load time the slowest worker's).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Endpoints with their own label; any other path (static files, docs, 404s) is "other".
ENDPOINTS = frozenset({"/", "/health", "/health/live", "/health/ready", "/metrics", "/v1/info", "/v1/predict"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """The metrics of one app, and :meth:`middleware` that counts every request."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("mltasks_serve_requests", "HTTP requests answered, by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("mltasks_serve_request_duration_seconds",
                                 "Seconds from a request's arrival to its last byte sent", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("mltasks_serve_batch_size", "Inputs per predict call (dynamic batching)",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.batch_seconds = Histogram("mltasks_serve_batch_duration_seconds", "Seconds per predict call",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("mltasks_serve_queue_depth", "Inputs waiting for the model",
                                 multiprocess_mode="livesum", registry=r)
        self.load_seconds = Gauge("mltasks_serve_model_load_seconds", "Seconds it took to load the run's model",
                                  multiprocess_mode="max", registry=r)
        self.ready = Gauge("mltasks_serve_ready", "1 once the model is loaded and warmed up, else 0",
                           multiprocess_mode="livemin", registry=r)
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe_batch(self, size: int, seconds: float) -> None:
        """One ``predict`` call of ``size`` inputs took ``seconds``."""
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """A request to ``endpoint`` was answered with ``status`` after ``seconds``."""
        children = self._children.get((endpoint, status))
        if children is None:  # labels() takes a lock and builds a key; once per pair is enough
            children = (self.requests.labels(endpoint, str(status)), self.latency.labels(endpoint))
            self._children[(endpoint, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text of this app (of every worker under ``--workers N``) and its content type."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestMetrics:
    """Pure ASGI middleware that records each HTTP request's endpoint, status and latency.

    :param app: the wrapped ASGI app.
    :param metrics: where the numbers go.
    """

    def __init__(self, app: Callable[..., Any], metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        root = scope.get("root_path") or ""
        if root and path.startswith(root):  # a mounted app sees its prefix in the path
            path = path[len(root):] or "/"
        endpoint = path if path in ENDPOINTS else "other"
        status = 500
        done = False

        async def watched(message: dict[str, Any]) -> None:
            nonlocal status, done
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done = True
                self.metrics.observe_request(endpoint, status, time.perf_counter() - started)

        try:
            await self.app(scope, receive, watched)
        finally:
            if not done:  # an unhandled error (answered 500 outside) or a client that went away
                self.metrics.observe_request(endpoint, status, time.perf_counter() - started)
