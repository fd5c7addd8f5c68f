"""Prometheus metrics of the service and the small HTTP server that exposes them with health probes.

All metrics live in one :class:`ServiceMetrics` bundle bound to an explicit ``CollectorRegistry``
(never the process-global one), so every test and every app instance has its own. Names follow
the Prometheus conventions: ``postguard_`` prefix, base units (seconds, bytes), ``_total`` on
counters, and labels with small fixed value sets only (never post ids, authors or text).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import AF_INET6

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder

logger = logging.getLogger(__name__)

PREFIX = "postguard"
ACTIONS = ("allow", "review", "block")
#: What service.observability.monitor refreshes periodically (values of the ``source`` label of refresh errors).
REFRESH_SOURCES = ("consumer_lag", "review_queue")

# CPU batch inference: a single short text scores in a few milliseconds, a full batch of 32 posts
# with images and OCR takes seconds on a small machine; beyond 10 s something is wrong anyway.
INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A whole batch adds image decoding, the database write and publishing to inference.
BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# One multi-row INSERT on a healthy database takes milliseconds; seconds mean lock waits or retries.
DB_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Message timestamp to committed decision: batching waits tens of ms; a backlog shows as tens of seconds.
END_TO_END_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# One image's OCR: ~0.1-0.5 s on one core; the wait before it is 0 on an idle lane, seconds when full.
OCR_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Batch sizes are capped at 1024 by the settings; powers of two show how full batches run.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True)
class OutboxGauges:
    """The verdict-event outbox as its relay sees it (service/review/events.py)."""

    pending: Gauge  # postguard_outbox_pending_events
    parked: Gauge  # postguard_outbox_parked_events
    oldest_pending_age_seconds: Gauge  # postguard_outbox_oldest_pending_age_seconds


def build_outbox_gauges(registry: CollectorRegistry) -> OutboxGauges:
    """The outbox gauges on ``registry`` (the service's, or the review page's own)."""
    return OutboxGauges(
        pending=Gauge(
            "postguard_outbox_pending_events",
            "Verdict events in the outbox waiting to be published (parked ones not included).",
            registry=registry,
        ),
        parked=Gauge(
            "postguard_outbox_parked_events",
            "Verdict events the broker kept refusing while others went through: set aside, never published until re-queued.",
            registry=registry,
        ),
        oldest_pending_age_seconds=Gauge(
            "postguard_outbox_oldest_pending_age_seconds",
            "How long the oldest pending verdict event has waited; 0 when none waits.",
            registry=registry,
        ),
    )


@dataclass(frozen=True)
class ServiceMetrics:
    """Every metric the service exports, bound to :attr:`registry`."""

    registry: CollectorRegistry
    posts_consumed: Counter  # postguard_posts_consumed_total{topic}
    decisions: Counter  # postguard_decisions_total{action}
    dead_lettered: Counter  # postguard_dead_lettered_total{reason}: reason is a PostRejected code
    category_triggers: Counter  # postguard_category_triggers_total{category}
    other_language_posts: Counter  # postguard_other_language_posts_total{language}
    inference_seconds: Histogram
    batch_seconds: Histogram
    db_write_seconds: Histogram
    end_to_end_seconds: Histogram
    batch_size: Histogram
    db_write_errors: Counter  # postguard_db_write_errors_total
    model_unavailable: Counter  # postguard_model_unavailable_total: batches held back, the model broken
    single_post_retries: Counter  # postguard_single_post_retries_total: a post that failed alone, tried again
    decisions_republished: Counter  # postguard_decisions_republished_total: duplicate decision events
    batch_retries: Counter  # postguard_batch_retries_total: batches rewound and fetched again
    ocr_lane_retries: (
        Counter  # postguard_ocr_lane_retries_total: OCR-lane groups decided again after a failure
    )
    batch_retry_backoff_seconds: Gauge  # the pause before the rewound batch is fetched again
    db_retry_backoff_seconds: Gauge
    consumer_paused: Gauge
    ocr_lane_posts: Gauge  # postguard_ocr_lane_posts: images handed to the OCR lane, not decided yet
    ocr_seconds: Histogram  # postguard_ocr_seconds: reading one image in the OCR lane
    ocr_lane_wait_seconds: Histogram  # postguard_ocr_lane_wait_seconds: queued in the lane before reading
    inference_thread_lent_seconds: (
        Counter  # postguard_inference_thread_lent_seconds_total: idle inference thread reading OCR lines
    )
    last_decision_timestamp_seconds: Gauge
    model_info: Info  # postguard_model_info{version, sha256, ...}
    policy_info: Info  # postguard_policy_info{version, source}
    # Refreshed every POSTGUARD_METRICS_REFRESH_INTERVAL_S by service.observability.monitor, not per batch.
    consumer_lag: Gauge  # postguard_consumer_lag_messages{topic, partition}: the group's, not this member's
    review_queue_items: Gauge  # postguard_review_queue_items{status}
    refresh_errors: Counter  # postguard_metrics_refresh_errors_total{source}: consumer_lag | review_queue
    outbox: OutboxGauges  # postguard_outbox_*: the verdict-event outbox


def build_metrics(registry: CollectorRegistry | None = None) -> ServiceMetrics:
    """Create the metrics on ``registry`` (a new one when ``None``), with process/platform/GC collectors."""
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)

    def name(suffix: str) -> str:
        return f"{PREFIX}_{suffix}"

    metrics = ServiceMetrics(
        registry=registry,
        posts_consumed=Counter(
            name("posts_consumed"), "Messages read from the input topic.", ["topic"], registry=registry
        ),
        decisions=Counter(
            name("decisions"), "Decisions committed, by action.", ["action"], registry=registry
        ),
        dead_lettered=Counter(
            name("dead_lettered"),
            "Messages sent to the dead-letter topic, by error code.",
            ["reason"],
            registry=registry,
        ),
        category_triggers=Counter(
            name("category_triggers"),
            "Decisions in which a category reached its review or block threshold.",
            ["category"],
            registry=registry,
        ),
        other_language_posts=Counter(
            name("other_language_posts"),
            "Decisions on posts with a text clearly written in a language the policy does not list as supported (the classifier reads English only), by identified language.",
            ["language"],
            registry=registry,
        ),
        inference_seconds=Histogram(
            name("inference_seconds"),
            "Time to score one batch.",
            buckets=INFERENCE_BUCKETS,
            registry=registry,
        ),
        batch_seconds=Histogram(
            name("batch_seconds"),
            "Time to handle one batch end to end.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        ),
        db_write_seconds=Histogram(
            name("db_write_seconds"),
            "Time of one decision-write transaction.",
            buckets=DB_WRITE_BUCKETS,
            registry=registry,
        ),
        end_to_end_seconds=Histogram(
            name("end_to_end_seconds"),
            "From the message's Kafka timestamp to its decision being committed.",
            buckets=END_TO_END_BUCKETS,
            registry=registry,
        ),
        batch_size=Histogram(
            name("batch_size"), "Posts per scored batch.", buckets=BATCH_SIZE_BUCKETS, registry=registry
        ),
        db_write_errors=Counter(
            name("db_write_errors"),
            "Failed decision-write transactions (each is retried).",
            registry=registry,
        ),
        model_unavailable=Counter(
            name("model_unavailable"),
            "Batches (or OCR-lane groups) held back for another try because the model failed on a known-good post too.",
            registry=registry,
        ),
        decisions_republished=Counter(
            name("decisions_republished"),
            "Decision events published for a decision read back from the database (stored by an earlier delivery of the post): duplicates, unless that delivery's publish failed.",
            registry=registry,
        ),
        single_post_retries=Counter(
            name("single_post_retries"),
            "Attempts at a post that failed alone (the model working on a known-good post) made again before dead-lettering it.",
            registry=registry,
        ),
        batch_retries=Counter(
            name("batch_retries"),
            "Batches that failed (model unavailable, publish or other errors) and were rewound to be fetched again.",
            registry=registry,
        ),
        ocr_lane_retries=Counter(
            name("ocr_lane_retries"),
            "Groups of OCR-lane posts whose decision failed and was tried again (after a pause doubling up to 60 s).",
            registry=registry,
        ),
        batch_retry_backoff_seconds=Gauge(
            name("batch_retry_backoff_seconds"),
            "Current pause before a failed batch is fetched again (doubles per consecutive failure, capped); 0 after a success.",
            registry=registry,
        ),
        db_retry_backoff_seconds=Gauge(
            name("db_retry_backoff_seconds"),
            "Current wait before retrying the database; 0 when writes succeed.",
            registry=registry,
        ),
        consumer_paused=Gauge(
            name("consumer_paused"),
            "1 while consumption is paused (database unavailable), else 0.",
            registry=registry,
        ),
        ocr_lane_posts=Gauge(
            name("ocr_lane_posts"),
            "Posts whose image is waiting for (or in) OCR in the OCR lane, not decided yet.",
            registry=registry,
        ),
        ocr_seconds=Histogram(
            name("ocr_seconds"),
            "Time to read the text in one image in the OCR lane.",
            buckets=OCR_BUCKETS,
            registry=registry,
        ),
        ocr_lane_wait_seconds=Histogram(
            name("ocr_lane_wait_seconds"),
            "Time an image waited in the OCR lane before its reading started.",
            buckets=OCR_BUCKETS,
            registry=registry,
        ),
        inference_thread_lent_seconds=Counter(
            name("inference_thread_lent_seconds"),
            "Time the idle inference thread spent recognising text lines for the OCR lane.",
            registry=registry,
        ),
        last_decision_timestamp_seconds=Gauge(
            name("last_decision_timestamp_seconds"),
            "Unix time of the last committed decision.",
            registry=registry,
        ),
        model_info=Info(name("model"), "The loaded classifier checkpoint.", registry=registry),
        policy_info=Info(name("policy"), "The loaded moderation policy.", registry=registry),
        consumer_lag=Gauge(
            name("consumer_lag_messages"),
            "Log-end offset minus the consumer group's committed offset, per input partition.",
            ["topic", "partition"],
            registry=registry,
        ),
        review_queue_items=Gauge(
            name("review_queue_items"),
            "Review items in PostgreSQL, by status.",
            ["status"],
            registry=registry,
        ),
        refresh_errors=Counter(
            name("metrics_refresh_errors"),
            "Failed refreshes of the periodically refreshed gauges, by source.",
            ["source"],
            registry=registry,
        ),
        outbox=build_outbox_gauges(registry),
    )
    # Export every action from the start so rate() and absent() see a series before the first decision.
    for action in ACTIONS:
        metrics.decisions.labels(action=action)
    for source in REFRESH_SOURCES:
        metrics.refresh_errors.labels(source=source)
    return metrics


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on a small threaded HTTP server in a daemon thread.

    ``/healthz`` answers 200 while the process runs; ``/readyz`` answers 200 only after
    ``set_ready(True)`` and 503 with a JSON reason otherwise. Port 0 binds an ephemeral port;
    :attr:`port` tells which.
    """

    def __init__(self, metrics: ServiceMetrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._requested_port = port
        self._state = (False, "starting")  # one tuple, replaced atomically: no lock needed
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (only after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("HealthServer is not started")
        return int(self._server.server_address[1])

    @property
    def ready(self) -> bool:
        return self._state[0]

    def set_ready(self, ready: bool, reason: str = "not ready") -> None:
        """Mark the service ready (``/readyz`` 200) or not, with the reason ``/readyz`` reports."""
        self._state = (ready, "ready" if ready else reason)

    def start(self) -> None:
        """Bind and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("HealthServer is already started")
        server_class = _IPv6Server if ":" in self._host else ThreadingHTTPServer
        server = server_class((self._host, self._requested_port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            # A short poll interval only makes stop() quick; requests are served immediately either way.
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="postguard-health",
            daemon=True,
        )
        self._thread.start()
        logger.info("metrics and health endpoints on %s:%d", self._host, self.port)

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _metrics_body(self, accept: str | None) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self._metrics.registry), content_type

    def _readiness(self) -> tuple[bool, str]:
        return self._state


class _IPv6Server(ThreadingHTTPServer):
    address_family = AF_INET6


def _make_handler(owner: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "postguard"
        sys_version = ""

        def handle(self) -> None:
            # A scraper or probe that times out and hangs up before the answer is written is not an
            # error of the service: without this, socketserver prints a BrokenPipeError traceback
            # to stderr for each one.
            try:
                super().handle()
            except ConnectionError as exc:
                logger.debug(
                    "health server: %s hung up before the answer was sent (%s)", self.client_address, exc
                )

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, content_type = owner._metrics_body(self.headers.get("Accept"))
                self._send(200, body, content_type)
            elif path == "/healthz":
                self._send_json(200, {"status": "ok"})
            elif path == "/readyz":
                ready, reason = owner._readiness()
                self._send_json(
                    200 if ready else 503, {"status": "ready" if ready else "not ready", "reason": reason}
                )
            else:
                self._send_json(404, {"status": "not found", "paths": ["/metrics", "/healthz", "/readyz"]})

        def _send_json(self, status: int, payload: dict[str, object]) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
            # Probes hit these paths every few seconds: keep them out of the service log.
            logger.debug("health server: " + format, *args)

    return Handler
