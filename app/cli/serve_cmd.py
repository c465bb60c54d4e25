"""`viewcount serve [--host H] [--port P]`."""

from __future__ import annotations

import logging

from app.cli import options
from viewcount.errors import ViewcountError

logger = logging.getLogger(__name__)


def register(commands) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API and the creator dashboard",
                                description="The HTTP API of CONTRACT §6 on uvicorn, one worker; "
                                            "OpenAPI docs at /docs, the dashboard at /dashboard/.")
    serve.add_argument("--host", help="address to listen on (default: VIEWCOUNT_SERVE_HOST)")
    serve.add_argument("--port", type=options.port, help="port to listen on (default: VIEWCOUNT_SERVE_PORT)")
    serve.set_defaults(run=run_serve)


def run_serve(args, settings) -> int:
    import uvicorn

    from app import wiring

    host, port = args.host or settings.serve_host, args.port or settings.serve_port
    require_listenable(host, port)
    app = wiring.api_app(settings)
    logger.info("viewcount API on http://%s:%s (docs /docs, dashboard /dashboard/)", host, port)
    uvicorn.run(app, host=host, port=port, workers=1, log_level=settings.log_level.lower(),
                access_log=False, timeout_graceful_shutdown=5,
                    log_config=None)   # uvicorn's loggers go to the process's handler (app/logs.py)
    return 0


def require_listenable(host: str, port: int) -> None:
    """Fail in one line before the server starts when the address cannot be bound (uvicorn would
    log its own multi-line startup failure)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:
        raise ViewcountError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
