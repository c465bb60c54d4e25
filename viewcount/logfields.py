"""The structured fields of a log line about a partition or one of its records: log calls pass
``extra=where(topic, partition, offset)``, and the JSON log format (``app/logs.py``) writes them as
fields of their own, so a log pipeline can find every line about a record."""

from __future__ import annotations

PLACE_FIELDS = ("topic", "partition", "offset")


def where(topic: str, partition: int, offset: int | None = None) -> dict:
    """The ``extra`` of a log call about a partition, or about one record of it."""
    place: dict = {"topic": topic, "partition": partition}
    if offset is not None:
        place["offset"] = offset
    return place
