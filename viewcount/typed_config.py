"""Typed configs for the clients of external stores: dataclasses that refuse unknown keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def typed_config(cls: type[T], values: Mapping[str, Any], error: type[Exception]) -> T:
    """``cls(**values)``, raising ``error`` naming any key ``cls`` does not declare."""
    unknown = sorted(set(values) - {f.name for f in fields(cls)})
    if unknown:
        raise error(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    return cls(**values)
