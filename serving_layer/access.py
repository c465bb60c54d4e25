"""One pure ASGI middleware around every request: latency per route template, one structured
access-log line, and a generic 500 for anything unexpected (no trace or internal name leaves)."""

from __future__ import annotations

import json
import logging
import time

from serving_layer.metrics import ServeMetrics

logger = logging.getLogger("serving_layer.access")

_INTERNAL_ERROR = json.dumps({"error": "internal", "detail": "internal error"}).encode()


class AccessMiddleware:
    def __init__(self, app, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_status(message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not status["sent"]:
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
            status["code"] = 500
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(route, scope["method"], str(status["code"])).observe(elapsed)
            principal = scope.get("state", {}).get("principal")
            if logger.isEnabledFor(logging.INFO):
                logger.info(json.dumps({
                    "method": scope["method"], "route": route, "path": scope["path"][:200],
                    "status": status["code"], "ms": round(elapsed * 1000, 3),
                    "principal": principal.name if principal is not None else None,
                    "client": (scope.get("client") or ("-",))[0],
                }, separators=(",", ":")))
