"""The collector's HTTP app (CONTRACT §8), built from injected parts (see
:func:`app.wiring.collector_app`).

``POST /v1/events`` answers 202 only after the broker acknowledged every event of the request
(the producer is idempotent with ``acks=all``); when that does not happen within the ack timeout,
503 with ``Retry-After``: the client sends the same request again, and the duplicates this makes
are removed by the event-id rule.

Waiting costs no thread: each send carries a callback, which a thread of the app's own (serving
the producer's delivery reports) hands to the event loop; the request awaits a future that the
last acknowledgement of its events resolves. Requests therefore share the producer's batches
(``linger.ms``) instead of each flushing the queue, which would wait for everyone's records.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.files.keyfile import KeyFile
from adapters.kafka.exceptions import KafkaSeamError
from adapters.kafka.seam import RecordProducer
from collector.bodies import MAX_BODY_BYTES, Event, parse_body
from collector.edge import edge_headers
from collector.exceptions import BadBody
from collector.keys import source_of
from viewcount import __version__
from viewcount.events import InvalidEvent, json_schema, parse_event


logger = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


@dataclass(frozen=True)
class CollectorConfig:
    topic: str
    ack_timeout_s: float = 5.0
    allowed_origins: tuple[str, ...] = ()
    ip_hmac_key: bytes = b""
    body_timeout_s: float = 10.0     # a 1 MiB body at 1 Mbit/s takes 8 s


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("viewcount_collector_requests_total", "Requests, by status", ["status"], registry=r)
        self.events = Counter("viewcount_collector_events_total", "Events produced, by validity",
                              ["outcome"], registry=r)
        self.ack_seconds = Histogram("viewcount_collector_ack_seconds",
                                     "From the request to the broker's acknowledgement of all its events",
                                     buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def create_collector(config: CollectorConfig, producer: RecordProducer, write_keys: Mapping[str, str] | KeyFile,
                     ready: Callable[[], bool], metrics: CollectorMetrics | None = None) -> FastAPI:
    metrics = metrics or CollectorMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        reports = threading.Thread(target=_serve_deliveries, args=(producer, stop), name="collector-deliveries",
                                   daemon=True)
        reports.start()
        yield
        stop.set()
        reports.join(5)

    app = FastAPI(title="viewcount collector", version=__version__, lifespan=lifespan,
                  description="Players send view events; each is produced to the views topic (CONTRACT §8).")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "error")
        return _error(e.status_code, code, code)

    async def acknowledged(events: list[Event], received_ms: int, headers: list[tuple[str, bytes]],
                           started: float) -> bool:
        """Send every event; True once the broker acknowledged them all within the ack timeout."""
        loop = asyncio.get_running_loop()
        outcome = loop.create_future()
        pending = [len(events)]
        lock = threading.Lock()   # reports come from the delivery thread, or from a send's own poll

        def on_done(error: Exception | None) -> None:
            with lock:
                pending[0] -= 1
                settled = error is not None or pending[0] == 0
            if settled:
                try:
                    loop.call_soon_threadsafe(_settle, outcome, error)
                except RuntimeError:   # the loop has closed (shutdown): nobody waits any more
                    pass

        def send_all() -> None:   # off the loop: a full local queue makes a send wait for room
            for e in events:
                producer.send(config.topic, e.value, key=e.key, timestamp_ms=received_ms, headers=headers,
                              on_done=on_done)

        try:
            await run_in_threadpool(send_all)
            remaining = config.ack_timeout_s - (time.monotonic() - started)
            return remaining > 0 and await asyncio.wait_for(asyncio.shield(outcome), remaining) is None
        except (KafkaSeamError, asyncio.TimeoutError):
            return False

    @app.post("/v1/events", status_code=202, summary="Send view events (write key: Bearer or ?key=)")
    async def post_events(request: Request) -> JSONResponse:
        received_ms = int(time.time() * 1000)
        started = time.monotonic()
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else request.query_params.get("key")
        source = source_of(write_keys, key)
        if source is None:
            metrics.requests.labels("401").inc()
            return _error(401, "unauthorized", "a valid write key is required", {"WWW-Authenticate": "Bearer"})
        try:
            body = await _read_capped(request, config.body_timeout_s)
            events = parse_body(request.headers.get("content-type"), body)
        except BadBody as e:
            metrics.requests.labels(str(e.status)).inc()
            return _error(e.status, e.code, e.detail)
        invalid = []
        for index, event in enumerate(events):   # validated before sending: a valid one's key is known then
            parsed = parse_event(event.value)
            if isinstance(parsed, InvalidEvent):
                invalid.append({"index": index, "reason": parsed.reason.value})
            else:
                event.learn_video(parsed.video_id)
        client = request.client.host if request.client else ""
        headers = edge_headers(source, request.headers.get("user-agent"), client, config.ip_hmac_key)
        if not await acknowledged(events, received_ms, headers, started):
            metrics.requests.labels("503").inc()
            return _error(503, "unavailable", "the events were not acknowledged in time; send the same request again",
                          {"Retry-After": "1"})
        metrics.ack_seconds.observe(time.monotonic() - started)
        metrics.events.labels("invalid").inc(len(invalid))
        metrics.events.labels("valid").inc(len(events) - len(invalid))
        metrics.requests.labels("202").inc()
        return JSONResponse({"received": len(events), "invalid": invalid}, status_code=202)

    @app.get("/v1/schema/view-event.json", summary="The view event's JSON Schema (draft 2020-12)")
    async def schema() -> JSONResponse:
        return JSONResponse(json_schema(), media_type="application/schema+json")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")   # viewcount-beacon.js for players

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: the producer reaches the broker")
    async def readyz() -> JSONResponse:
        if await run_in_threadpool(ready):
            return JSONResponse({"status": "ready"})
        return _error(503, "unavailable", "the Kafka broker is not reachable", {"Retry-After": "1"})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if config.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.allowed_origins), allow_methods=["POST"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    return app


def _settle(outcome: asyncio.Future, error: Exception | None) -> None:
    if not outcome.done():   # the first failure settles it; later reports change nothing
        outcome.set_result(error)


def _serve_deliveries(producer: RecordProducer, stop: threading.Event) -> None:
    """Until stopped; a failure to serve one round is logged and the next round goes on, since every
    waiting request depends on this thread."""
    while not stop.is_set():
        try:
            producer.serve_deliveries(0.1)
        except Exception:  # noqa: BLE001 - whatever a report raised, the reports after it must flow
            logger.exception("serving the producer's delivery reports failed; going on")


async def _read_capped(request: Request, deadline_s: float) -> bytes:
    """The body, refused (413) as soon as it is over the limit, so a 10 MB body is never held
    whole; and refused (408) when it has not all arrived ``deadline_s`` after the request began,
    so a client trickling bytes (slowloris) cannot hold a connection and its buffer for long."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadBody(413, "too_large", f"a request carries at most {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0

    async def read() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BadBody(413, "too_large", f"a request carries at most {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(read(), deadline_s)
    except asyncio.TimeoutError:
        raise BadBody(408, "request_timeout", f"the body did not arrive within {deadline_s:g} s") from None
    return b"".join(chunks)
