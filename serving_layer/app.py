"""The HTTP API of CONTRACT §6, built from injected parts (see :func:`app.wiring.api_app`).

Every answer about a video comes from one atomic read of the serving store (pointer → version →
speed buckets at or after W), so ``views == batch_views + speed_views`` holds in every answer,
even while a publish flips the pointer. Handlers are ``async`` and await Redis (``redis.asyncio``),
so one worker serves other requests while a read runs; the Redis socket timeout bounds how long a
request can wait.

Authentication is a plain call at the top of each handler rather than a FastAPI dependency:
resolving a dependency cost about as much as the whole Redis read. (No ``from __future__ import
annotations`` here: FastAPI reads the handlers' annotations.)
"""


import math
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.redis.exceptions import ServingStoreError
from serving_layer.access import AccessMiddleware
from serving_layer.auth import Authenticator, Principal
from serving_layer.documents import creator_document, hourly_document, video_document
from serving_layer.metrics import ServeMetrics
from serving_layer.ratelimit import KeyPacer, RateLimiter
from viewcount import __version__
from viewcount.events import valid_id
from serving_layer.owners import CatalogEditor
from serving_layer.views import PayoutSource, ServingReader, StatementSource
from adapters.files.exceptions import StoreError
from viewcount.errors import DependencyUnavailable, ViewcountError
from viewcount.ownership import Catalog
from viewcount.timeutil import HOUR_MS, format_hour, format_ms, hour_floor, now_ms, parse_rfc3339_ms

DASHBOARD = Path(__file__).with_name("dashboard")
STATEMENT_FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


class ApiError(Exception):
    """An answer other than 200, with a stable code and a message safe to show."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def create_app(store: ServingReader, authenticator: Authenticator, limiter: KeyPacer | None,
               topic: str, metrics: ServeMetrics | None = None, payouts: PayoutSource | None = None,
               catalog: CatalogEditor | None = None, failed_auth: RateLimiter | None = None,
               statements: StatementSource | None = None) -> FastAPI:
    """``limiter`` paces each creator key; ``failed_auth`` paces failed authentications per client
    address, so that keys and the admin token cannot be guessed at speed."""
    metrics = metrics or ServeMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await store.close()

    app = FastAPI(title="viewcount", version=__version__, lifespan=lifespan,
                  description="Exact video view counts: batch views below the watermark merged with "
                              "the speed layer at or after it (CONTRACT §6).")

    # --- errors: a JSON body with a code and a safe message, never a trace --------------------
    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return _error(e.status, e.code, e.detail, e.headers)

    @app.exception_handler(ServingStoreError)
    async def store_down(request: Request, e: ServingStoreError) -> JSONResponse:
        metrics.store_unavailable.inc()
        return _error(503, "unavailable", "the view store is not reachable; retry shortly",
                      {"Retry-After": "1"})

    @app.exception_handler(StoreError)
    async def ledger_down(request: Request, e: StoreError) -> JSONResponse:
        metrics.store_unavailable.inc()
        return _error(503, "unavailable", "the audit store is not reachable; retry shortly", {"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError) -> JSONResponse:
        fields = sorted({".".join(str(p) for p in err.get("loc", ())[1:]) for err in e.errors()})
        return _error(422, "invalid_request", f"invalid {', '.join(fields) or 'request'}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "error")
        return _error(e.status_code, code, "no such resource" if e.status_code == 404 else code)

    # --- who is asking, and how often ----------------------------------------------------------
    def principal(request: Request) -> Principal:
        client = request.client.host if request.client else "unknown"
        if failed_auth is not None:
            locked = failed_auth.wait(client)
            if locked > 0:   # checked before the token: a locked-out address learns nothing
                metrics.rate_limited.inc()
                raise ApiError(429, "rate_limited", "too many failed authentications from this address",
                               {"Retry-After": str(max(1, math.ceil(locked)))})
        who = authenticator.authenticate(request.headers.get("authorization"))
        if who is None:
            if failed_auth is not None:
                failed_auth.acquire(client)
            raise ApiError(401, "unauthorized", "a valid bearer token is required",
                           {"WWW-Authenticate": "Bearer"})
        request.state.principal = who
        return who

    async def pace(who: Principal) -> None:
        """A creator key's requests, paced by its token bucket (shared by every API replica when
        the limiter is the Redis one); the admin is not paced."""
        if limiter is not None and not who.is_admin:
            wait = await limiter.take(who.creator_id)
            if wait > 0:
                metrics.rate_limited.inc()
                raise ApiError(429, "rate_limited", "too many requests for this key",
                               {"Retry-After": str(max(1, math.ceil(wait)))})


    def checked_id(kind: str, value: str) -> str:
        if not valid_id(value):
            raise ApiError(422, "invalid_id", f"{kind} must match ^[A-Za-z0-9_-]{{1,64}}$")
        return value

    async def readable_video(who: Principal, video_id: str, hourly: bool = False):
        await pace(who)
        views = await store.video_views(checked_id("video_id", video_id), topic, hourly=hourly)
        if not views.known or not who.may_read(views.creator_id):
            raise ApiError(404, "not_found", "no such video")  # another creator's: not revealed
        return views

    async def readable_creator(request: Request, creator_id: str) -> Principal:
        who = principal(request)
        await pace(who)
        checked_id("creator_id", creator_id)
        if not who.may_read(creator_id):
            raise ApiError(404, "not_found", "no such creator")  # another creator's: not revealed
        return who

    # --- CONTRACT §6 -----------------------------------------------------------------------------
    # Handlers return their JSON ready-made: the documents are plain dicts of str and int, and
    # validating them again on the way out cost more than the Redis read.
    @app.get("/v1/videos/{video_id}/views", summary="A video's merged view count",
             responses=_example(VIDEO_EXAMPLE))
    async def video_views(video_id: str, request: Request) -> JSONResponse:
        return JSONResponse(video_document(await readable_video(principal(request), video_id)))

    @app.get("/v1/videos/{video_id}/views/hourly", summary="A video's merged views by event hour, in [from, to)",
             responses=_example(HOURLY_EXAMPLE))
    async def video_hourly(video_id: str, request: Request,
                           start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                           end: Annotated[str | None, Query(alias="to", max_length=40)] = None) -> JSONResponse:
        who = principal(request)
        low, high = _time_param("from", start), _time_param("to", end)
        if low is not None and high is not None and low > high:
            raise ApiError(422, "invalid_request", "from must not be after to")
        return JSONResponse(hourly_document(await readable_video(who, video_id, hourly=True), low, high))

    @app.get("/v1/creators/{creator_id}/views", summary="A creator's videos and total views",
             responses=_example(CREATOR_EXAMPLE))
    async def creator_views(creator_id: str, request: Request) -> JSONResponse:
        who = await readable_creator(request, creator_id)
        c = await store.creator_views(creator_id, topic)
        if not c.videos and who.is_admin:
            raise ApiError(404, "not_found", "no such creator")
        return JSONResponse(creator_document(c))

    @app.get("/v1/creators/{creator_id}/payouts", summary="A creator's payouts and adjustments, from the audit ledger",
             responses=_example(PAYOUTS_EXAMPLE))
    async def creator_payouts(creator_id: str, request: Request) -> JSONResponse:
        await readable_creator(request, creator_id)
        if payouts is None:
            raise ApiError(404, "not_found", "payouts are not served here")
        # The ledger is on a file store (local disk or WebHDFS): read it off the event loop.
        return JSONResponse(await run_in_threadpool(payouts.for_creator, creator_id))

    def admin_only(request: Request, what: str) -> Principal:
        who = principal(request)
        if not who.is_admin:
            raise ApiError(403, "forbidden", f"{what} with the admin token only")
        return who

    # --- statements for finance, admin token only -----------------------------------------------
    @app.get("/v1/billing/{period}/statement.{fmt}", summary="A billed month's statement, CSV or Parquet (admin)",
             description="The latest statement of the month (through its highest audit sequence number), as "
                         "`statement.csv` (CONTRACT §7 columns and a totals row) or `statement.parquet` "
                         "(typed, decimals exact). 404 when the month has not been billed.",
             responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}},
                        **{k: v for k, v in _example({}).items() if k != 200}})
    async def statement(period: str, fmt: str, request: Request) -> Response:
        admin_only(request, "statements are downloaded")
        if fmt not in STATEMENT_FORMATS or statements is None:
            raise ApiError(404, "not_found", "statements are served as statement.csv or statement.parquet"
                           if statements is not None else "statements are not served here")
        try:   # the audit store is on local disk or WebHDFS: read it off the event loop
            found = await run_in_threadpool(statements.latest, period, fmt)
        except StoreError:
            raise          # the store is down: 503, as for any read of it
        except ViewcountError:
            raise ApiError(422, "invalid_request", "period must be a month YYYY-MM") from None
        if found is None:
            raise ApiError(404, "not_found", f"{period} has not been billed")
        name, data = found
        return Response(data, media_type=STATEMENT_FORMATS[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    # --- the video catalog (CONTRACT §9), admin token only --------------------------------------
    def admin(request: Request) -> Principal:
        who = admin_only(request, "the video catalog is written")
        if catalog is None:
            raise ApiError(404, "not_found", "the video catalog is not served here")
        return who

    @app.put("/v1/admin/videos/{video_id}", summary="Assign a video to its owner from a UTC hour (admin)",
             description='Body: `{"creator_id": "…", "effective_from": "2026-11-26T06:00:00Z"}` (the hour is '
                         'optional: by default the next one)', responses=_example(ASSIGNMENT_EXAMPLE))
    async def assign_video(video_id: str, request: Request) -> JSONResponse:
        admin(request)           # before the body is read: without the admin token, only 401 or 403
        try:
            body = AssignmentBody.model_validate_json(await request.body())
        except ValidationError as e:
            fields = sorted({".".join(str(p) for p in err.get("loc", ())) for err in e.errors()})
            raise ApiError(422, "invalid_request", f"invalid {', '.join(f for f in fields if f) or 'body'}") from None
        checked_id("video_id", video_id)
        checked_id("creator_id", body.creator_id)
        effective = (hour_floor(now_ms()) + HOUR_MS if body.effective_from is None
                     else _time_param("effective_from", body.effective_from))
        if effective % HOUR_MS:
            raise ApiError(422, "invalid_request", "effective_from must be a UTC hour, e.g. 2026-11-26T06:00:00Z")
        try:
            assignment = await run_in_threadpool(catalog.assign, video_id, body.creator_id, effective, "admin-token (API)")
        except StoreError:
            raise
        except DependencyUnavailable as e:
            raise ApiError(503, "unavailable", str(e)) from None
        except ViewcountError as e:
            raise ApiError(409, "refused", str(e)) from None
        return JSONResponse(_catalog_document(video_id, await run_in_threadpool(catalog.current), assignment.seq))

    @app.get("/v1/admin/videos/{video_id}", summary="A video's catalog history (admin)",
             responses=_example(ASSIGNMENT_EXAMPLE))
    async def video_catalog(video_id: str, request: Request) -> JSONResponse:
        admin(request)
        checked_id("video_id", video_id)
        current = await run_in_threadpool(catalog.current)
        if video_id not in current:
            raise ApiError(404, "not_found", "the catalog has no entry for this video")
        return JSONResponse(_catalog_document(video_id, current))

    # --- operations ------------------------------------------------------------------------------
    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: Redis reachable; the published batch version, if any")
    async def readyz() -> dict:
        await store.ping()
        pointer = await store.batch_pointer()
        return {"status": "ready", "batch_version": pointer[0] if pointer else None,
                "batch_watermark": format_ms(pointer[1]) if pointer else None}

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus() -> Response:
        try:
            pointer = await store.batch_pointer()
            if pointer is not None:
                metrics.batch_age.set(max(0.0, time.time() - pointer[1] / 1000))
        except ServingStoreError:
            pass  # the store's own errors are counted; the other metrics still answer
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    app.mount("/dashboard", StaticFiles(directory=DASHBOARD, html=True), name="dashboard")
    app.add_middleware(AccessMiddleware, metrics=metrics)
    return app


VIDEO_EXAMPLE = {"video_id": "vid_000001", "creator_id": "creator_0001", "views": 2077, "batch_views": 1650,
                 "speed_views": 427, "batch_watermark": "2026-11-22T02:00:00.000Z",
                 "as_of": "2026-11-22T04:31:08.112Z"}
HOURLY_EXAMPLE = {"video_id": "vid_000001", "hours": [{"hour": "2026-11-21T00:00:00Z", "views": 31}]}
CREATOR_EXAMPLE = {"creator_id": "creator_0001", "views": 2890,
                   "videos": [{"video_id": "vid_000001", "views": 2077}],
                   "batch_watermark": "2026-11-22T02:00:00.000Z", "as_of": "2026-11-22T04:31:08.112Z"}
PAYOUTS_EXAMPLE = {"creator_id": "creator_0001", "payouts": [
    {"payout_id": "po-2026-10-3f1c0d9a7b2e4c5d6e7f", "kind": "payout", "period": "2026-10", "views": 1234,
     "rate_per_1000": "4.00", "currency": "USD", "amount": "4.94", "audit_seq": 12,
     "created_at": "2026-11-20T06:00:01.120000Z", "batch_version": "w20261120T05-1a2b3c4d"},
    {"payout_id": "adj-2026-10-9e8d7c6b5a4f3e2d1c0b", "kind": "adjustment", "period": "2026-10", "views": -4,
     "rate_per_1000": "4.00", "currency": "USD", "amount": "-0.02", "audit_seq": 31,
     "created_at": "2026-11-25T06:00:02.410000Z", "batch_version": "w20261125T05-5e6f7a8b",
     "adjusts": "po-2026-10-3f1c0d9a7b2e4c5d6e7f"}],
    "periods": [{"period": "2026-10", "currency": "USD", "views": 1230, "amount": "4.92"}]}


ASSIGNMENT_EXAMPLE = {"video_id": "vid_000001", "creator_id": "creator_0002", "audit_seq": 41,
                      "history": [{"creator_id": "creator_0001", "effective_from": "2026-10-01T00:00:00Z",
                                   "audit_seq": 12},
                                  {"creator_id": "creator_0002", "effective_from": "2026-11-26T06:00:00Z",
                                   "audit_seq": 41}]}


class AssignmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    creator_id: str = Field(max_length=64)
    effective_from: str | None = Field(default=None, max_length=40)


def _catalog_document(video_id: str, current: Catalog, seq: int | None = None) -> dict:
    history = current.history(video_id)
    owner = current.owner_at(video_id, hour_floor(now_ms()))
    doc = {"video_id": video_id, "creator_id": owner,
           "history": [{"creator_id": a.creator_id, "effective_from": format_hour(a.effective_from_ms),
                        "audit_seq": a.seq} for a in history]}
    if seq is not None:
        doc["audit_seq"] = seq
    return doc


def _example(body: dict) -> dict:
    errors = {401: "no or unknown token", 403: "an admin route with a creator's key",
              404: "no such resource (or another creator's)", 409: "an assignment the catalog refuses",
              422: "malformed id or parameter", 429: "rate limited (Retry-After)", 503: "Redis not reachable"}
    return {200: {"content": {"application/json": {"example": body}}},
            **{code: {"description": text, "content": {"application/json": {"example": {"error": "…", "detail": "…"}}}}
               for code, text in errors.items()}}


def _time_param(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_rfc3339_ms(text)
    except (ValueError, OverflowError):
        raise ApiError(422, "invalid_request", f"{name} must be an RFC 3339 time such as 2026-11-22T00:00:00Z") from None
