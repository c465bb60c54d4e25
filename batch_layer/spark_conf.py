"""The settings a batch Spark session starts with: the project's defaults, then the operator's
own (``SPARK_CONF``, a ``spark-defaults.conf``), then the few the counts depend on, which no
file may change."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from batch_layer.exceptions import BatchError

# Event hours and days are UTC (CONTRACT §2), and batch versions, like the raw files they come
# from, are their owner's alone.
PINNED = {"spark.sql.session.timeZone": "UTC", "spark.hadoop.fs.permissions.umask-mode": "077"}
# Named by settings of their own: a file that set them too would leave two answers.
ELSEWHERE = {"spark.master": "SPARK_MASTER", "spark.driver.memory": "SPARK_DRIVER_MEMORY"}


class SparkConfError(BatchError):
    """A ``SPARK_CONF`` file that cannot be used as it is."""


def parse_spark_defaults(text: str, source: str) -> dict[str, str]:
    """``spark-defaults.conf`` lines (``key value`` or ``key=value``; ``#`` comments) → settings.
    Refuses keys outside ``spark.``, a key given twice, and the keys that are pinned or set
    elsewhere, naming the line."""
    conf: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = _split(line)
        where = f"{source}:{number}"
        if not key.startswith("spark.") or not value:
            raise SparkConfError(f"{where}: expected `spark.<key> <value>`, got {line!r}")
        if key in PINNED:
            raise SparkConfError(f"{where}: {key} is fixed at {PINNED[key]!r}: the counts depend on it")
        if key in ELSEWHERE:
            raise SparkConfError(f"{where}: set {key} with VIEWCOUNT_{ELSEWHERE[key]}, not here")
        if key in conf:
            raise SparkConfError(f"{where}: {key} is set twice")
        conf[key] = value
    return conf


_LINE = re.compile(r"^([^=\s]+)\s*(?:=|\s)\s*(.*)$")


def _split(line: str) -> tuple[str, str]:
    matched = _LINE.match(line)
    return (matched.group(1), matched.group(2).strip()) if matched else (line, "")


def read_spark_conf(path: str) -> dict[str, str]:
    """The settings of the ``SPARK_CONF`` file (none when the path is empty)."""
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SparkConfError(f"SPARK_CONF {path}: {e.strerror or e}") from e
    return parse_spark_defaults(text, path)


def session_conf(master: str, driver_memory: str, shuffle_partitions: int,
                 operator: Mapping[str, str] = {}) -> dict[str, str]:
    """Every setting of the session, in the order they win: defaults, the operator's, pinned."""
    conf = {"spark.driver.memory": driver_memory, "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": str(shuffle_partitions)}
    if master.startswith(("spark://127.0.0.1:", "spark://localhost:")):
        # Executors on loopback reach the driver only there; left to itself, Spark advertises the
        # first non-loopback interface.
        conf.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})
    if master.startswith("local"):
        # One process has no locality to wait for; left at its default, delay scheduling keeps
        # the last tasks over hdfs:// input waiting for a data-local slot that never comes.
        conf["spark.locality.wait"] = "0"
    return {**conf, **operator, **PINNED}
