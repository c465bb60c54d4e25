"""The file-store interface shared by the raw store and the audit store."""

from __future__ import annotations

import posixpath
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.files.exceptions import AlreadyExists, StoreError
from viewcount.typed_config import typed_config


@dataclass(frozen=True)
class FileInfo:
    path: str        # relative to the store root
    size: int


class FileStore(ABC):
    """Immutable-file semantics: files are written whole under a temporary name and renamed into
    place (the rename is the commit); nothing is overwritten unless asked."""

    @property
    @abstractmethod
    def url(self) -> str:
        """The store root as a URL Spark can read (``file:///…`` or ``hdfs://…``)."""

    @abstractmethod
    def put_new(self, path: str, data: bytes, before_commit: Callable[[], None] | None = None) -> bool:
        """Write ``data`` at ``path`` atomically unless a file is already there.
        Returns False, writing nothing, when ``path`` exists. ``before_commit`` runs once the
        data is written under a temporary name, just before it is committed (renamed) to
        ``path``: an exception from it commits nothing, and propagates (a writer's fence)."""

    def create_exclusive(self, path: str, data: bytes) -> None:
        """Create ``path`` with ``data``; raise :class:`AlreadyExists` if another writer got there
        first. Safe between concurrent processes, because :meth:`put_new` commits atomically."""
        if not self.put_new(path, data):
            raise AlreadyExists(f"{path} already exists")

    @abstractmethod
    def put(self, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` atomically, replacing what is there (small state files)."""

    @abstractmethod
    def read(self, path: str) -> bytes:
        """Raises :class:`NotFound` if absent."""

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def list(self, directory: str) -> list[FileInfo]:
        """Files directly in ``directory`` (no sub-folders); empty if it does not exist."""

    @abstractmethod
    def list_dirs(self, directory: str) -> list[str]:
        """Names of the sub-folders of ``directory``, sorted; empty if it does not exist."""

    @abstractmethod
    def delete(self, path: str) -> bool:
        """Remove a file; False if it was not there."""

    def walk(self, directory: str) -> list[FileInfo]:
        """Every file below ``directory``, in path order."""
        out = list(self.list(directory))
        for name in self.list_dirs(directory):
            out.extend(self.walk(posixpath.join(directory, name)))
        return sorted(out, key=lambda f: f.path)


def temporary_name(path: str) -> str:
    """A hidden sibling of ``path``: readers that skip ``_``/``.`` files (Spark, Arrow) ignore it."""
    head, tail = posixpath.split(path)
    return posixpath.join(head, f".{tail}.{uuid.uuid4().hex[:12]}.tmp")


def clean_path(path: str) -> str:
    """Reject paths that could leave the store root."""
    norm = posixpath.normpath(path.lstrip("/"))
    if norm.startswith("..") or norm == ".":
        raise StoreError(f"bad store path: {path!r}")
    return norm


def config_from_mapping(cls: type, values: dict[str, Any]):
    """Build a store config dataclass, refusing unknown keys."""
    return typed_config(cls, values, StoreError)
