"""`viewcount collect [--host H] [--port P]`: the HTTP collector for players (CONTRACT §8)."""

from __future__ import annotations

import logging

from app.cli import options
from app.cli.serve_cmd import require_listenable

logger = logging.getLogger(__name__)


def register(commands) -> None:
    cmd = commands.add_parser("collect", help="run the HTTP collector players send views to",
                              description="POST /v1/events with a write key: each event is produced to the views "
                                          "topic, 202 once the broker acknowledged them all (CONTRACT §8).")
    cmd.add_argument("--host", help="address to listen on (default: VIEWCOUNT_COLLECTOR_HOST)")
    cmd.add_argument("--port", type=options.port, help="port to listen on (default: VIEWCOUNT_COLLECTOR_PORT)")
    cmd.set_defaults(run=run)


def run(args, settings) -> int:
    import uvicorn

    from app import wiring

    host, port = args.host or settings.collector_host, args.port or settings.collector_port
    require_listenable(host, port)
    app, clients = wiring.collector_app(settings)
    logger.info("viewcount collector on http://%s:%s → %s", host, port, settings.topic)
    try:
        uvicorn.run(app, host=host, port=port, workers=1, log_level=settings.log_level.lower(),
                    access_log=False, timeout_graceful_shutdown=5,
                    log_config=None)   # uvicorn's loggers go to the process's handler (app/logs.py)
    finally:
        for client in clients:
            client.close()
    return 0
