"""`viewcount serve [--host H] [--port P]` and `viewcount keys issue CREATOR_ID`."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from app.cli import options
from viewcount.errors import ViewcountError
from viewcount.events import valid_id


def register(commands) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API and the creator dashboard",
                                description="The HTTP API of CONTRACT §6 on uvicorn, one worker; "
                                            "OpenAPI docs at /docs, the dashboard at /dashboard/.")
    serve.add_argument("--host", help="address to listen on (default: VIEWCOUNT_SERVE_HOST)")
    serve.add_argument("--port", type=options.port, help="port to listen on (default: VIEWCOUNT_SERVE_PORT)")
    serve.set_defaults(run=run_serve)

    keys = commands.add_parser("keys", help="creator API keys").add_subparsers(dest="keys_command",
                                                                               metavar="ACTION", required=True)
    issue = keys.add_parser("issue", help="issue a creator API key: print it once, store only its SHA-256",
                            description="Adds sha256(new key) → CREATOR_ID to VIEWCOUNT_API_KEYS_FILE "
                                        "(created if missing, rewritten atomically) and prints the key. "
                                        "The key is not stored anywhere: hand it to the creator now.")
    issue.add_argument("creator_id", metavar="CREATOR_ID")
    issue.add_argument("--file", help="the keys file (default: VIEWCOUNT_API_KEYS_FILE)")
    issue.set_defaults(run=run_issue)


def run_serve(args, settings) -> int:
    import uvicorn

    from app import wiring

    host, port = args.host or settings.serve_host, args.port or settings.serve_port
    require_listenable(host, port)
    app = wiring.api_app(settings)
    print(f"viewcount API on http://{host}:{port} (docs /docs, dashboard /dashboard/)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, workers=1, log_level=settings.log_level.lower(),
                access_log=False, timeout_graceful_shutdown=5)
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


def run_issue(args, settings) -> int:
    from serving_layer.auth import key_digest, load_api_keys, new_api_key

    path = args.file or settings.api_keys_file
    if not path:
        raise ViewcountError("no keys file: set VIEWCOUNT_API_KEYS_FILE or pass --file")
    if not valid_id(args.creator_id):
        raise ViewcountError("CREATOR_ID must match ^[A-Za-z0-9_-]{1,64}$")
    keys = load_api_keys(path) if Path(path).exists() else {}
    key = new_api_key()
    keys[key_digest(key)] = args.creator_id
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=f".{target.name}.", delete=False) as f:
        json.dump(keys, f, indent=1, sort_keys=True)
        f.write("\n")
    os.chmod(f.name, 0o600)
    os.replace(f.name, target)
    print(key)
    print(f"issued a key for {args.creator_id}; {target} holds only its SHA-256", file=sys.stderr)
    return 0
