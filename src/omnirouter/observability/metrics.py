"""``GatewayMetrics``: the Prometheus metrics of one worker, and their exposition (``GET /metrics``).

Fed at one point, off the request's hot path: the usage recorder hands each tick's finished records
to ``observe`` (``usage/recorder.py``), which adds them up per label set and updates the counters and
histograms once per set.  The gauges are read from live state: the breakers and the requests at an
upstream (``channels``), the recorder's backlog, and, at scrape time, the task table (``tasks.py``).

Several workers (``omnirouter serve --workers N``): the CLI names a fresh directory in
``PROMETHEUS_MULTIPROC_DIR`` before the workers start (``multiprocess.py``), so prometheus_client keeps
every value in per-process files there and a scrape, served by any one worker, adds up all of them.
The live gauges of each worker are written to its files every ``tick`` seconds (and by the worker that
serves the scrape, at once).  Without the variable, one process: a registry of this instance's own
(a test process may host several gateways).
"""

from __future__ import annotations

import logging
import math
import os
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from omnirouter.background import BackgroundLoop
from omnirouter.observability.multiprocess import metrics_dir, prune_dead_workers
from omnirouter.observability.tasks import TaskGauges
from omnirouter.routing import Channel
from omnirouter.storage import Database
from omnirouter.usage import UsageRecord

__all__ = ["DURATION_BUCKETS", "MAX_MODELS", "OTHER_MODEL", "TTFB_BUCKETS", "GatewayMetrics", "observe_many"]

log = logging.getLogger("omnirouter.metrics")

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Seconds from the request's arrival to its ledger row (a model answer takes seconds to minutes)."""
TTFB_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""Seconds from the request's arrival to the first byte of the answer sent to the client."""
TOKEN_KINDS = ("input", "output", "cached", "reasoning")
OTHER_MODEL = "other"
"""The ``model`` label of a request for a name no channel serves (clients choose names: the series stay few)."""
MAX_MODELS = 1000
"""Distinct ``model`` label values one worker keeps; later new names count as ``other``."""
_NOT_UPSTREAM = "client_disconnected"  # an attempt that ended because the client left: not an upstream error


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """``histogram.observe(v)`` for every ``v`` of ``values``, as one update per bucket and one of the sum.

    ``observe`` takes a lock (and, with several workers, writes a file) for the sum and a bucket of every
    value: for a tick's records that held the event loop for milliseconds at a time (the p99 of requests
    at concurrency 1 doubled).  This counts the values into the buckets first.  It reaches into
    prometheus_client's histogram child (``_upper_bounds``, ``_buckets``, ``_sum``, as ``observe`` does);
    tests/gateway/test_metrics.py checks it against ``observe`` value by value.
    """
    if not values:
        return
    bounds: Sequence[float] = histogram._upper_bounds
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect_left(bounds, value)] += 1  # the first bound >= value, as observe's ``amount <= bound``
    histogram._sum.inc(math.fsum(values))
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)


class GatewayMetrics:
    """One worker's metric families, fed from usage records and live state.

    ``channels`` returns the current channels (their breakers and ``in_flight``), ``backlog`` the
    usage recorder's waiting records, ``routable`` whether a public model name is served by a channel
    (which names become ``model`` labels), ``db`` the database the task gauges are read from.
    """

    def __init__(
        self,
        channels: Callable[[], Iterable[Channel]],
        backlog: Callable[[], int],
        routable: Callable[[str], bool],
        db: Database | None = None,
        *,
        tick: float = 1.0,
    ) -> None:
        self._channels = channels
        self._backlog = backlog
        self._routable = routable
        self._gauge_writer = _GaugeWriter(self, tick)
        self.directory = metrics_dir()
        # No ``*_created`` series (process-wide; the multiprocess mode has none either).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        own = CollectorRegistry(auto_describe=False)
        registry = None if self.directory else own  # several workers: the values live in the files
        self.requests = Counter(
            "omnirouter_requests",
            "Finished requests (one per usage record), by client protocol, public model, last channel tried "
            "(empty: none) and HTTP status",
            ("protocol", "model", "channel", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "omnirouter_request_duration_seconds",
            "Seconds from a request's arrival until it ended",
            ("protocol", "model"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.ttfb = Histogram(
            "omnirouter_time_to_first_byte_seconds",
            "Seconds from a request's arrival until the first byte of its answer (answered requests only)",
            ("protocol", "model"),
            buckets=TTFB_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "omnirouter_tokens",
            "Tokens by public model and kind: input (cached reads and cache writes included), output "
            "(reasoning included), cached (input read from cache), reasoning (part of output)",
            ("model", "kind"),
            registry=registry,
        )
        self.cost = Counter(
            "omnirouter_cost_usd", "USD charged to client keys, by public model", ("model",), registry=registry
        )
        self.upstream_errors = Counter(
            "omnirouter_upstream_errors",
            "Failed upstream attempts (retried or not), by channel and error class (the gateway's error kind)",
            ("channel", "class"),
            registry=registry,
        )
        self.breaker_open = Gauge(
            "omnirouter_breaker_open",
            "1 while a channel's circuit breaker is open or half-open (any worker), else 0",
            ("channel",),
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.in_flight = Gauge(
            "omnirouter_in_flight_requests",
            "Requests waiting on an upstream now (all workers)",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.backlog = Gauge(
            "omnirouter_usage_backlog",
            "Usage records waiting to be written to the database (all workers)",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.task_gauges = TaskGauges(db)
        if self.directory:
            self.registry = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self.registry, self.directory)  # type: ignore[no-untyped-call]
        else:
            self.registry = own
        self.registry.register(self.task_gauges)
        self._models: set[str] = set()
        self._breaker_channels: set[str] = set()
        # Children by label values: ``labels()`` validates its arguments on every call.
        self._request_children: dict[tuple[str, str, str, str], Counter] = {}
        self._latency_children: dict[tuple[str, str], tuple[Histogram, Histogram]] = {}

    def observe(self, records: Sequence[UsageRecord]) -> None:
        """Count ``records`` (finished requests, each once): grouped by label set first, so the loop over the
        records does one dict look-up each and every counter or histogram is updated once per set."""
        groups: dict[tuple[str, str, str | None, int], list[UsageRecord]] = {}
        for rec in records:
            key = (rec.inbound_protocol, rec.model, rec.channel, rec.status_code)
            group = groups.get(key)
            if group is None:
                groups[key] = [rec]
            else:
                group.append(rec)
        latencies: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        tokens: Tally[tuple[str, str]] = Tally()
        cost: Tally[str] = Tally()
        errors: Tally[tuple[str, str]] = Tally()
        for (protocol, name, channel, status), group in groups.items():
            model = self._model_label(name, channel)
            request_key = (protocol, model, channel or "", str(status))
            child = self._request_children.get(request_key)
            if child is None:
                child = self._request_children[request_key] = self.requests.labels(*request_key)
            child.inc(len(group))
            durations, ttfbs = latencies.setdefault((protocol, model), ([], []))
            durations.extend([max(r.latency_ms, 0.0) / 1000.0 for r in group])
            ttfbs.extend([max(r.ttfb_ms, 0.0) / 1000.0 for r in group if r.ttfb_ms is not None])
            for kind, counts in zip(
                TOKEN_KINDS,
                (
                    [r.input_tokens for r in group],
                    [r.output_tokens for r in group],
                    [r.cached_tokens for r in group],
                    [r.reasoning_tokens for r in group],
                ),
                strict=True,
            ):
                total = sum(n for n in counts if n > 0)
                if total:
                    tokens[(model, kind)] += total
            nano = sum(r.cost_nano for r in group if r.cost_nano > 0)
            if nano:
                cost[model] += nano
            for rec in group:
                if rec.attempt_log is not None and (rec.attempts > 1 or rec.error_kind is not None):
                    _count_upstream_errors(rec.attempt_log, errors)
        for (protocol, model), (durations, ttfbs) in latencies.items():
            duration, ttfb = self._latency(protocol, model)
            observe_many(duration, durations)
            observe_many(ttfb, ttfbs)
        for (model, kind), n in tokens.items():
            self.tokens.labels(model, kind).inc(n)
        for model, nano in cost.items():
            self.cost.labels(model).inc(nano / 1e9)
        for (channel_name, kind), n in errors.items():
            self.upstream_errors.labels(channel_name, kind).inc(n)

    def _model_label(self, model: str, channel: str | None) -> str:
        if model in self._models:
            return model
        if len(self._models) >= MAX_MODELS or not (channel is not None or self._routable(model)):
            return OTHER_MODEL
        self._models.add(model)
        return model

    def _latency(self, protocol: str, model: str) -> tuple[Histogram, Histogram]:
        found = self._latency_children.get((protocol, model))
        if found is None:
            found = (self.duration.labels(protocol, model), self.ttfb.labels(protocol, model))
            self._latency_children[(protocol, model)] = found
        return found

    def sample(self) -> None:
        """Set the live gauges from this worker's state (breakers, requests at upstreams, usage backlog)."""
        channels = tuple(self._channels())
        names = set()
        for channel in channels:
            names.add(channel.name)
            self.breaker_open.labels(channel.name).set(0 if channel.breaker.state == "closed" else 1)
        for gone in self._breaker_channels - names:  # a channel removed since: 0 (in the files), then dropped
            self.breaker_open.labels(gone).set(0)
            self.breaker_open.remove(gone)
        self._breaker_channels = names
        self.in_flight.set(sum(channel.in_flight for channel in channels))
        self.backlog.set(self._backlog())

    async def render(self) -> bytes:
        """The exposition of every worker's metrics (text format), the task gauges read now."""
        self.sample()
        await self.task_gauges.refresh()
        if self.directory:
            prune_dead_workers(self.directory)
        return generate_latest(self.registry)

    async def start(self) -> None:
        """With several workers: write this worker's live gauges every ``tick`` seconds."""
        if self.directory:
            await self._gauge_writer.start()

    async def stop(self) -> None:
        """Stop the gauge writer; with several workers, drop this worker's live gauges from the files."""
        await self._gauge_writer.stop()
        if self.directory:
            mark_process_dead(os.getpid(), self.directory)  # type: ignore[no-untyped-call]


class _GaugeWriter(BackgroundLoop):
    """Samples a worker's live gauges every tick (with several workers they live in files a scrape reads)."""

    name = "omnirouter-metrics-gauges"
    log = log

    def __init__(self, metrics: GatewayMetrics, tick: float) -> None:
        super().__init__(tick)
        self._metrics = metrics

    async def run_once(self) -> int:
        self._metrics.sample()
        return 1


def _count_upstream_errors(attempt_log: str, errors: Tally[tuple[str, str]]) -> None:
    """Add the failed attempts of one request's attempt log (``relay.RequestContext.attempt_log``)."""
    try:
        entries = orjson.loads(attempt_log)
    except orjson.JSONDecodeError:  # cut at the column's size: a very long log
        return
    for entry in entries:
        kind = entry.get("error")
        channel = entry.get("channel")
        if isinstance(kind, str) and isinstance(channel, str) and kind != _NOT_UPSTREAM:
            errors[(channel, kind)] += 1
