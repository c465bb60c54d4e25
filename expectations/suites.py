"""The data checks, stored as Great Expectations suite files under ``expectations/json/`` (one
per check, with its notes): a data engineer reads, reviews and changes them as files.

Batch: ``raw_schema``, ``raw_batch`` (its invalid share bounded by the ``max_invalid_share``
parameter), ``batch_views``, ``reconcile``. Billing: ``payouts``, ``creator_month``, ``statement``.
"""

from __future__ import annotations

import json

SUITE_NAMES = ("raw_schema", "raw_batch", "batch_views", "reconcile", "payouts", "creator_month", "statement")


def suite_document(name: str) -> dict:
    """A stored suite as JSON, read as package data (so it loads from a zip too)."""
    from importlib.resources import files

    if name not in SUITE_NAMES:
        raise KeyError(f"no suite {name!r}: expected one of {', '.join(SUITE_NAMES)}")
    return json.loads(files(__package__).joinpath("json", f"{name}.json").read_text(encoding="utf-8"))


def load_suite(name: str):
    """The stored suite as a :class:`great_expectations.ExpectationSuite`."""
    import great_expectations as gx

    document = suite_document(name)
    return gx.ExpectationSuite(name=document["name"], expectations=document["expectations"],
                               notes=document.get("notes"), meta=document.get("meta") or {})
