"""The file store on a local (or mounted) file system."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.files.base import FileInfo, FileStore, clean_path, config_from_mapping, temporary_name
from adapters.files.exceptions import NotFound, StoreError, StoreUnavailable


@dataclass(frozen=True)
class LocalStoreConfig:
    root: str

    @classmethod
    def from_mapping(cls, values: dict) -> LocalStoreConfig:
        return config_from_mapping(cls, values)


class LocalFileStore(FileStore):
    def __init__(self, config: LocalStoreConfig) -> None:
        self.root = Path(config.root)

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def _abs(self, path: str) -> Path:
        return self.root / clean_path(path)

    def _write_temp(self, target: Path, data: bytes) -> Path:
        _make_dirs(target.parent)
        tmp = target.parent / Path(temporary_name(target.name)).name
        # Owner only (0600 in 0700 directories): raw views and audit records are nobody else's to read.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return tmp

    def put_new(self, path: str, data: bytes, before_commit: Callable[[], None] | None = None) -> bool:
        target = self._abs(path)
        if target.exists():
            return False
        try:
            tmp = self._write_temp(target, data)
            try:
                if before_commit is not None:
                    before_commit()
                # link() fails if the target exists: an atomic "rename unless present".
                os.link(tmp, target)
            except FileExistsError:
                return False
            finally:
                tmp.unlink(missing_ok=True)
            _fsync_dir(target.parent)
        except OSError as e:
            raise _translate(e, path) from e
        return True

    def put(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        try:
            tmp = self._write_temp(target, data)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as e:
            raise _translate(e, path) from e

    def read(self, path: str) -> bytes:
        try:
            return self._abs(path).read_bytes()
        except FileNotFoundError as e:
            raise NotFound(path) from e
        except OSError as e:
            raise _translate(e, path) from e

    def exists(self, path: str) -> bool:
        return self._abs(path).exists()

    def list(self, directory: str) -> list[FileInfo]:
        base = self._abs(directory) if directory else self.root
        try:
            entries = list(os.scandir(base))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise _translate(e, directory) from e
        rel = base.relative_to(self.root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        return sorted((FileInfo(prefix + e.name, e.stat().st_size) for e in entries
                       if e.is_file() and not e.name.startswith(".")), key=lambda f: f.path)

    def list_dirs(self, directory: str) -> list[str]:
        base = self._abs(directory) if directory else self.root
        try:
            return sorted(e.name for e in os.scandir(base) if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise _translate(e, directory) from e

    def delete(self, path: str) -> bool:
        try:
            self._abs(path).unlink()
        except FileNotFoundError:
            return False
        except OSError as e:
            raise _translate(e, path) from e
        return True


FILE_MODE, DIR_MODE = 0o600, 0o700


def _make_dirs(directory: Path) -> None:
    """``mkdir -p`` with every directory it creates at 0700 (``Path.mkdir(parents=True)`` would
    give the parents the default mode)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _translate(error: OSError, path: str) -> StoreError:
    if error.errno in (errno.ENOSPC, errno.EIO, errno.EROFS):
        return StoreUnavailable(f"{path}: {error.strerror}")
    return StoreError(f"{path}: {error}")
