"""Prometheus metrics of one service app.

Each app owns a registry, so several apps in one process (tests, co-located services)
do not collide. Under gunicorn with several workers, ``PROMETHEUS_MULTIPROC_DIR`` (set by
``deploy/gunicorn.conf.py``) makes ``/metrics`` add up every worker's figures.
"""
from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)

#: The only method labels: any other method a caller invents counts as ``other``, so no
#: caller can grow the number of series (routes are templates, statuses are ours).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServiceMetrics:
    """Request counts by route and status, latency, batch sizes and queue wait, and the
    pipe calls the service made (who it called, how often, how fast); every series
    labelled with the service and the version it serves, so two versions deployed side
    by side (``versions:`` in the registry) are told apart."""

    def __init__(self, service: str, version: str = ""):
        self.registry = CollectorRegistry(auto_describe=True)
        labels = {"registry": self.registry}
        own = ["service", "version"]
        self.requests = Counter("modelchain_requests_total", "HTTP requests served.",
                                [*own, "route", "method", "status"], **labels)
        self.latency = Histogram("modelchain_request_duration_seconds",
                                 "Time to answer a request.", [*own, "route"],
                                 buckets=LATENCY_BUCKETS, **labels)
        self.batch_size = Histogram("modelchain_request_batch_size",
                                    "Items per /predict request.", own,
                                    buckets=BATCH_BUCKETS, **labels)
        self.model_batch_size = Histogram("modelchain_model_batch_size",
                                          "Items per model call (after dynamic batching).",
                                          own, buckets=BATCH_BUCKETS, **labels)
        self.queue_wait = Histogram("modelchain_batch_queue_wait_seconds",
                                    "Time a request waited for company in the batcher.",
                                    own, buckets=LATENCY_BUCKETS, **labels)
        self.colocated = Counter("modelchain_colocated_requests_total",
                                 "Requests from a co-located service, served in-process "
                                 "(also counted in modelchain_requests_total).",
                                 [*own, "status"], **labels)
        # The caller is the service itself (with its version); callees are bounded.
        self.pipe_calls = Counter("modelchain_pipe_calls_total",
                                  "Pipe calls this service made, by callee and outcome "
                                  "(ok, error: the callee answered one, unreached).",
                                  ["caller", "version", "callee", "outcome"], **labels)
        self.pipe_seconds = Histogram("modelchain_pipe_call_seconds",
                                      "Time a pipe call took, as its caller saw it.",
                                      ["caller", "version", "callee"],
                                      buckets=LATENCY_BUCKETS, **labels)
        self.service = service
        self.version = version
        # Labelled children, looked up once: ``labels()`` was the largest single cost
        # of an in-process hop (make bench, pipes). Their keys are bounded (see METHODS).
        self._children: dict[tuple, object] = {}
        self.request_batch = self.batch_size.labels(service, version)
        self.model_batch = self.model_batch_size.labels(service, version)
        self.batch_wait = self.queue_wait.labels(service, version)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        method = method if method in METHODS else "other"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(self.service, self.version, route, method,
                                    str(status)),
                self.latency.labels(self.service, self.version, route))
        children[0].inc()
        children[1].observe(seconds)

    def count_colocated(self, status: int) -> None:
        """Count one request served in-process to a co-located caller."""
        key = ("colocated", status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.colocated.labels(self.service, self.version,
                                                                   str(status))
        child.inc()

    def observe_pipe_call(self, callee: str, outcome: str, seconds: float) -> None:
        """Count one pipe call this service made (``callee``: a bounded label)."""
        key = ("pipe", callee, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.pipe_calls.labels(self.service, self.version, callee, outcome),
                self.pipe_seconds.labels(self.service, self.version, callee))
        children[0].inc()
        children[1].observe(seconds)

    def collected(self) -> CollectorRegistry:
        """What ``/metrics`` shows: this app's registry, or every worker's figures
        under ``PROMETHEUS_MULTIPROC_DIR``."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return registry
        return self.registry

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        return generate_latest(self.collected()), CONTENT_TYPE_LATEST
