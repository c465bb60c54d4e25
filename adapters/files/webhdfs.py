"""The file store on HDFS, through WebHDFS (the ``hdfs`` package)."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from adapters.files.base import FileInfo, FileStore, clean_path, config_from_mapping, temporary_name
from adapters.files.exceptions import AlreadyExists, NotFound, StoreError, StoreUnavailable

logger = logging.getLogger(__name__)

FILE_MODE, DIR_MODE = "600", "700"    # CONTRACT: raw and audit data readable by their owner only


AUTH_MODES = ("simple", "kerberos", "token")


@dataclass(frozen=True)
class WebHdfsStoreConfig:
    url: str            # hdfs://namenode:port/root: what Spark reads
    webhdfs_url: str    # http://namenode:http-port: what Python talks to
    user: str = "viewcount"             # auth "simple": the user name WebHDFS takes on trust
    timeout_s: float = 30.0
    auth: str = "simple"                # one of AUTH_MODES
    kerberos_principal: str = ""        # auth "kerberos": the client principal ("": the default one)
    delegation_token: str = field(default="", repr=False)   # auth "token": a delegation token's urlString

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise StoreError(f"WebHDFS auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}")
        if self.auth == "token" and not self.delegation_token:
            raise StoreError("WebHDFS auth 'token' needs a delegation_token")

    @classmethod
    def from_mapping(cls, values: dict) -> WebHdfsStoreConfig:
        return config_from_mapping(cls, values)


def webhdfs_client(config: WebHdfsStoreConfig):
    """The ``hdfs`` package's client for the configured authentication.

    Kerberos is SPNEGO with the process's own credentials, found the MIT Kerberos way: a client
    keytab named by ``KRB5_CLIENT_KTNAME`` (tickets are then got and renewed on their own) or a
    ticket cache (``kinit``); ``KRB5_CONFIG`` names the realm's configuration. After the first
    exchange the NameNode's ``hadoop.auth`` cookie stands in for it until it expires.

    The server's half of the exchange (mutual authentication) is not checked: requests-kerberos
    keeps one context per host for every thread, so concurrent calls race on it and fail, and
    over plain HTTP it would not protect the data anyway. Use an ``https://`` WEBHDFS_URL where
    the NameNode's identity matters: TLS proves it, and protects what is sent.
    """
    if config.auth == "kerberos":
        try:
            from hdfs.ext.kerberos import KerberosClient
        except ImportError as e:
            raise StoreError("HDFS_AUTH=kerberos needs the kerberos extra: pip install 'viewcount[kerberos]' "
                             f"(requests-kerberos, with MIT Kerberos's libraries) ({e})") from e
        return KerberosClient(config.webhdfs_url, timeout=config.timeout_s, mutual_auth="DISABLED",
                              principal=config.kerberos_principal or None)
    if config.auth == "token":
        from hdfs.client import TokenClient

        return TokenClient(config.webhdfs_url, config.delegation_token, timeout=config.timeout_s)
    from hdfs import InsecureClient

    return InsecureClient(config.webhdfs_url, user=config.user, timeout=config.timeout_s)


class WebHdfsFileStore(FileStore):
    def __init__(self, config: WebHdfsStoreConfig) -> None:
        self._config = config
        self.root = urlsplit(config.url).path.rstrip("/") or "/"
        self._client = webhdfs_client(config)
        self._made_dirs: set[str] = set()    # made 0700 by this store: no MKDIRS call per write

    @property
    def url(self) -> str:
        return self._config.url.rstrip("/")

    def _abs(self, path: str) -> str:
        return posixpath.join(self.root, clean_path(path)) if path else self.root

    def _call(self, what: str, fn, *args, **kwargs):
        from hdfs.util import HdfsError
        from requests.exceptions import RequestException

        try:
            return fn(*args, **kwargs)
        except HdfsError as e:
            text = str(e)
            if "does not exist" in text or "not found" in text or "FileNotFound" in text:
                raise NotFound(f"{what}: {text}") from e
            if "already exists" in text:
                raise AlreadyExists(f"{what}: {text}") from e
            if text.startswith("Authentication failure"):     # what the client says of a 401
                hint = (": has this process Kerberos credentials? Set KRB5_CLIENT_KTNAME to a client keytab, "
                        "or kinit" if self._config.auth == "kerberos" else "")
                raise StoreError(f"{what}: WebHDFS at {self._config.webhdfs_url} refused this client's "
                                 f"credentials (HDFS_AUTH={self._config.auth}){hint}") from e
            raise StoreError(f"{what}: {text}") from e
        except RequestException as e:
            raise StoreUnavailable(f"{what}: WebHDFS at {self._config.webhdfs_url} did not answer ({e})") from e

    def _write_temp(self, target: str, data: bytes) -> str:
        tmp = temporary_name(target)
        # Owner only, as on local disk: the directory first (HDFS would create it 755), then the file.
        directory = posixpath.dirname(tmp)
        if directory not in self._made_dirs:
            self._call(f"mkdir {directory}", self._client.makedirs, directory, permission=DIR_MODE)
            self._made_dirs.add(directory)
        self._call(f"write {tmp}", self._client.write, tmp, data=data, overwrite=False, permission=FILE_MODE)
        return tmp

    def put_new(self, path: str, data: bytes, before_commit: Callable[[], None] | None = None) -> bool:
        target = self._abs(path)
        if self.exists(path):
            return False
        tmp = self._write_temp(target, data)
        try:
            if before_commit is not None:
                before_commit()
            # HDFS rename refuses an existing target: the commit cannot overwrite. WebHDFS answers
            # every refused rename with the same `false`, so whether the target is there now tells
            # "someone else wrote it" from a rename that failed (which must never pass for written).
            self._call(f"commit {path}", self._client.rename, tmp, target)
        except StoreError as e:
            if self.exists(path):
                return False
            raise StoreError(f"commit {path}: WebHDFS refused the rename and nothing is at the target: {e}") from e
        finally:
            self._client.delete(tmp)
        return True

    def put(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        tmp = self._write_temp(target, data)
        response = self._call(f"replace {path}", self._client._rename, tmp,
                              destination=target, renameoptions="OVERWRITE")
        # A rename with options (OVERWRITE) reports failure as an HTTP error and answers 200 with an
        # empty body; a plain one answers {"boolean": false}: either is a failed replace.
        refused = response.content and response.json().get("boolean") is False
        if getattr(response, "status_code", 200) != 200 or refused:
            self._client.delete(tmp)
            raise StoreError(f"replace {path}: WebHDFS refused the rename ({getattr(response, 'status_code', '?')})")

    def read(self, path: str) -> bytes:
        def _read():
            with self._client.read(self._abs(path)) as reader:
                return reader.read()

        return self._call(f"read {path}", _read)

    def exists(self, path: str) -> bool:
        # Not status(strict=False): it answers None for every refused call (a 403, a 500), not only
        # for a missing file, and a refused call must never read as "not there".
        try:
            self._call(f"stat {path}", self._client.status, self._abs(path))
        except NotFound:
            return False
        return True

    def _entries(self, directory: str) -> list[tuple[str, dict]]:
        try:
            return self._call(f"list {directory}", self._client.list, self._abs(directory), status=True)
        except NotFound:
            return []

    def list(self, directory: str) -> list[FileInfo]:
        prefix = clean_path(directory) + "/" if directory else ""
        return sorted((FileInfo(prefix + name, int(status["length"]))
                       for name, status in self._entries(directory)
                       if status["type"] == "FILE" and not name.startswith(".")),
                      key=lambda f: f.path)

    def list_dirs(self, directory: str) -> list[str]:
        return sorted(name for name, status in self._entries(directory)
                      if status["type"] == "DIRECTORY" and not name.startswith("."))

    def delete(self, path: str) -> bool:
        return bool(self._call(f"delete {path}", self._client.delete, self._abs(path)))
