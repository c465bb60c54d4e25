"""How every process logs: one line per event on stderr, as text for a terminal or as JSON for a
log pipeline (``LOG_FORMAT=json``), with the same fields either way.

JSON lines hold ``time`` (UTC, milliseconds), ``level``, ``logger`` and ``message``, then
``topic``, ``partition`` and ``offset`` when the event concerns a record or a partition (log
calls pass them as ``extra``: :func:`viewcount.logfields.where`), and ``exception`` with the traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone

from viewcount.logfields import PLACE_FIELDS

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, tz=timezone.utc)
        line = {"time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z",
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in PLACE_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class RedactingFilter(logging.Filter):
    """Masks secrets that travel in URLs, which HTTP libraries log at DEBUG: an HDFS delegation
    token (HDFS_AUTH=token) is a query parameter of every WebHDFS call."""

    SECRET_IN_URL = re.compile(r"((?:delegation|token)=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.SECRET_IN_URL.sub(r"\1***", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure(level: str, fmt: str = "text") -> None:
    """The root logger of the process: one handler on stderr in the chosen format. Servers started
    afterwards (uvicorn) are given ``log_config=None`` so that their loggers come here too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
