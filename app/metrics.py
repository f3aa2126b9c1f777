"""Prometheus metrics: `GET /metrics`, behind `METRICS_TOKEN` (404 when unset).

Layer: web + infrastructure. In-process counts add up in one Redis hash across processes; what the
database or RQ knows is read at scrape time. No shop ids or personal data in labels. Requests
(webhook intake) add to a per-process buffer that a thread flushes every `FLUSH_EVERY_S`, so no
request waits on Redis for its metrics; a scrape flushes its own process's buffer first.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Blueprint, Response, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from rq import Queue
from sqlalchemy import func, select

from app.kizuna import Kizuna, kizuna
from connectors.telemetry import set_api_problem_observer

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

METRICS_KEY = "kizuna:metrics"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

# name → (type, help, label names); every series stored in Redis is declared here.
COUNTERS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "kizuna_webhook_intake": (
        "Webhook deliveries answered, by platform and status",
        ("platform", "status"),
    ),
    "kizuna_webhook_processed": (
        "Webhook events processed, by platform and outcome",
        ("platform", "outcome"),
    ),
    "kizuna_api_problems": ("Platform API calls refused, failed or throttled", ("service", "kind")),
}
HISTOGRAMS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "kizuna_webhook_intake_seconds": ("Time to verify, record and answer a webhook", ("platform",)),
    "kizuna_webhook_processing_seconds": ("Time to apply one webhook event", ("platform",)),
    "kizuna_webhook_lag_seconds": ("Time from receipt to processed", ("platform",)),
}


def _field(name: str, labels: Mapping[str, str], suffix: str = "") -> str:
    return f"{name}{suffix}|{json.dumps(dict(sorted(labels.items())), separators=(',', ':'))}"


def _add_count(pipeline: Any, name: str, labels: Mapping[str, str], amount: int = 1) -> None:
    pipeline.hincrby(METRICS_KEY, _field(name, labels), amount)


def _add_observation(pipeline: Any, name: str, labels: Mapping[str, str], seconds: float) -> None:
    bucket = next((b for b in LATENCY_BUCKETS if seconds <= b), None)
    le = "+Inf" if bucket is None else repr(bucket)
    pipeline.hincrby(METRICS_KEY, _field(name, {**labels, "le": le}, "_bucket"), 1)
    pipeline.hincrbyfloat(METRICS_KEY, _field(name, labels, "_sum"), seconds)
    pipeline.hincrby(METRICS_KEY, _field(name, labels, "_count"), 1)


def record(
    connection: redis.Redis,
    counts: Iterable[tuple[str, Mapping[str, str]]] = (),
    observations: Iterable[tuple[str, Mapping[str, str], float]] = (),
) -> None:
    """Add to declared counters and histograms in one round trip; a Redis failure loses the
    numbers, never the caller's work."""
    try:
        pipeline = connection.pipeline(transaction=False)
        for name, labels in counts:
            _add_count(pipeline, name, labels)
        for name, labels, seconds in observations:
            _add_observation(pipeline, name, labels, seconds)
        pipeline.execute()
    except (redis.RedisError, OSError) as error:
        log.debug("metrics not recorded error=%s", type(error).__name__)


FLUSH_EVERY_S = 0.5


class _Buffered:
    """This process's metrics not yet in Redis, per connection, as HINCRBY(FLOAT) amounts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.amounts: dict[redis.Redis, dict[str, int | float]] = {}
        self.flusher: threading.Thread | None = None
        self.pid = os.getpid()

    def add(self, connection: redis.Redis, field: str, amount: int | float) -> None:
        fields = self.amounts.setdefault(connection, {})
        fields[field] = fields.get(field, 0) + amount

    def start(self) -> None:
        """The flusher thread of this process (a forked child starts its own)."""
        if self.flusher is not None and self.pid == os.getpid():
            return
        self.pid = os.getpid()
        self.flusher = threading.Thread(target=self._run, name="metrics-flush", daemon=True)
        self.flusher.start()

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY_S)
            self.flush()

    def flush(self, only: redis.Redis | None = None) -> None:
        with self.lock:
            if only is None:
                taken, self.amounts = self.amounts, {}
            else:
                taken = {only: self.amounts.pop(only)} if only in self.amounts else {}
        for connection, fields in taken.items():
            try:
                pipeline = connection.pipeline(transaction=False)
                for field, amount in fields.items():
                    if isinstance(amount, float):
                        pipeline.hincrbyfloat(METRICS_KEY, field, amount)
                    else:
                        pipeline.hincrby(METRICS_KEY, field, amount)
                pipeline.execute()
            except (redis.RedisError, OSError) as error:
                log.debug("metrics not recorded error=%s", type(error).__name__)


_buffered = _Buffered()


def record_soon(
    connection: redis.Redis,
    counts: Iterable[tuple[str, Mapping[str, str]]] = (),
    observations: Iterable[tuple[str, Mapping[str, str], float]] = (),
) -> None:
    """`record`, without a Redis round trip: the numbers reach Redis within `FLUSH_EVERY_S`
    (lost if the process dies first)."""
    with _buffered.lock:
        for name, labels in counts:
            _buffered.add(connection, _field(name, labels), 1)
        for name, labels, seconds in observations:
            bucket = next((b for b in LATENCY_BUCKETS if seconds <= b), None)
            le = "+Inf" if bucket is None else repr(bucket)
            _buffered.add(connection, _field(name, {**labels, "le": le}, "_bucket"), 1)
            _buffered.add(connection, _field(name, labels, "_sum"), float(seconds))
            _buffered.add(connection, _field(name, labels, "_count"), 1)
        _buffered.start()


def count(connection: redis.Redis, name: str, labels: Mapping[str, str]) -> None:
    record(connection, counts=[(name, labels)])


def install_api_problem_counter(runtime: Kizuna) -> None:
    """Count the connectors' API problems in this runtime's Redis."""
    set_api_problem_observer(
        lambda service, kind: count(
            runtime.redis, "kizuna_api_problems", {"service": service, "kind": kind}
        )
    )


class KizunaCollector(Collector):
    """Builds every family at scrape time from Redis, RQ and the database."""

    def __init__(self, runtime: Kizuna) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        yield from self._stored()
        yield from self._queues()
        yield from self._database()

    def _stored(self) -> Iterator[Any]:
        Labels = tuple[tuple[str, str], ...]
        raw: dict[bytes, bytes] = self.runtime.redis.hgetall(METRICS_KEY)  # type: ignore[assignment]
        series: dict[str, dict[Labels, float]] = {}
        for key, amount in raw.items():
            series_name, _, label_json = key.decode().partition("|")
            series_labels: Labels = tuple(json.loads(label_json).items())
            series.setdefault(series_name, {})[series_labels] = float(amount)
        for name, (help_text, label_names) in COUNTERS.items():
            counter = CounterMetricFamily(name, help_text, labels=label_names)
            for labels, total in sorted(series.get(name, {}).items()):
                counter.add_metric([dict(labels).get(n, "") for n in label_names], total)
            yield counter
        for name, (help_text, label_names) in HISTOGRAMS.items():
            histogram = HistogramMetricFamily(name, help_text, labels=label_names)
            for labels in sorted(series.get(f"{name}_count", {})):
                label_map = dict(labels)
                per_bucket: dict[str, float] = {}
                for bucket_labels, hits in series.get(f"{name}_bucket", {}).items():
                    bucket_map = dict(bucket_labels)
                    bound = bucket_map.pop("le", "")
                    if bucket_map == label_map:
                        per_bucket[bound] = hits
                cumulative, buckets = 0.0, []
                for bound in (*(repr(b) for b in LATENCY_BUCKETS), "+Inf"):
                    cumulative += per_bucket.get(bound, 0.0)
                    buckets.append((bound, cumulative))
                histogram.add_metric(
                    [label_map.get(n, "") for n in label_names],
                    buckets,
                    series.get(f"{name}_sum", {}).get(labels, 0.0),
                )
            yield histogram

    def _queues(self) -> Iterator[Any]:
        from app.queueing import QUEUE_NAMES

        depth = GaugeMetricFamily(
            "kizuna_queue_jobs", "Jobs waiting in each RQ queue", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "kizuna_queue_oldest_job_age_seconds",
            "Age of the job at the head of each RQ queue (0 when empty)",
            labels=["queue"],
        )
        scheduled = GaugeMetricFamily(
            "kizuna_queue_scheduled_jobs", "Jobs scheduled for later, per queue", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "kizuna_queue_failed_jobs", "Jobs in each queue's failed registry", labels=["queue"]
        )
        now = datetime.now(UTC)
        for name in QUEUE_NAMES:
            queue = Queue(name, connection=self.runtime.redis)
            depth.add_metric([name], queue.count)
            oldest = 0.0
            head = queue.get_job_ids(0, 0)
            job = queue.fetch_job(head[0]) if head else None
            if job is not None and job.enqueued_at is not None:
                enqueued = job.enqueued_at
                if enqueued.tzinfo is None:
                    enqueued = enqueued.replace(tzinfo=UTC)
                oldest = max(0.0, (now - enqueued).total_seconds())
            age.add_metric([name], oldest)
            scheduled.add_metric([name], queue.scheduled_job_registry.count)
            failed.add_metric([name], queue.failed_job_registry.count)
        yield from (depth, age, scheduled, failed)

    def _database(self) -> Iterator[Any]:
        from app.models import FlowRun, Message, Shop, WebhookEvent

        events = GaugeMetricFamily(
            "kizuna_webhook_events",
            "Webhook events recorded, by platform and status",
            labels=["platform", "status"],
        )
        pending_age = GaugeMetricFamily(
            "kizuna_webhook_oldest_pending_age_seconds",
            "Age of the oldest webhook event still pending (0 when none)",
        )
        messages = GaugeMetricFamily(
            "kizuna_flow_messages",
            "Flow emails by flow and status (sent, failed, skipped, pending, ...)",
            labels=["flow", "status"],
        )
        sync_shops = GaugeMetricFamily(
            "kizuna_sync_shops", "Installed shops by sync status", labels=["platform", "status"]
        )
        sync_records = GaugeMetricFamily(
            "kizuna_sync_records",
            "Records of running syncs: done and expected totals, per stream",
            labels=["stream", "kind"],
        )
        now = datetime.now(UTC)
        with self.runtime.db.session() as session:
            rows = session.execute(
                select(WebhookEvent.platform, WebhookEvent.status, func.count()).group_by(
                    WebhookEvent.platform, WebhookEvent.status
                )
            )
            for platform, status, number in rows:
                events.add_metric([platform, status], number)
            oldest = session.scalar(
                select(func.min(WebhookEvent.received_at)).where(WebhookEvent.status == "pending")
            )
            pending_age.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
            rows = session.execute(
                select(FlowRun.flow_key, Message.status, func.count())
                .join(FlowRun, FlowRun.id == Message.flow_run_id)
                .group_by(FlowRun.flow_key, Message.status)
            )
            for flow_key, status, number in rows:
                messages.add_metric([flow_key, status], number)
            shop_counts: dict[tuple[str, str], int] = {}
            stream_totals: dict[tuple[str, str], float] = {}
            for platform, state in session.execute(
                select(Shop.platform, Shop.sync_state).where(Shop.status != "uninstalled")
            ):
                state = state or {}
                status = str(state.get("status") or "never")
                shop_counts[(platform, status)] = shop_counts.get((platform, status), 0) + 1
                if status != "running":
                    continue
                for kind in ("done", "totals"):
                    for stream, number in (state.get(kind) or {}).items():
                        if isinstance(number, int | float):
                            key = (str(stream), kind)
                            stream_totals[key] = stream_totals.get(key, 0.0) + float(number)
            for (platform, status), shops in sorted(shop_counts.items()):
                sync_shops.add_metric([platform, status], shops)
            for (stream, kind), records in sorted(stream_totals.items()):
                sync_records.add_metric([stream, "total" if kind == "totals" else kind], records)
        yield from (events, pending_age, messages, sync_shops, sync_records)


def _authorized(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token)


@bp.get("/metrics")
def metrics() -> Response:
    runtime = kizuna()
    token = runtime.config.metrics_token
    if token is None:
        return Response("not found\n", status=404, mimetype="text/plain")
    if not _authorized(token):
        return Response(
            "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    _buffered.flush(only=runtime.redis)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KizunaCollector(runtime))
    started = time.perf_counter()
    body = generate_latest(registry)
    log.debug("metrics scraped seconds=%.3f", time.perf_counter() - started)
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")
