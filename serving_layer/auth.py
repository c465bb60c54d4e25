"""Who is asking (CONTRACT §5–§6): the admin token reads everything, a creator's API key reads
only that creator's data.

Keys are never stored: ``API_KEYS_FILE`` maps the SHA-256 hex digest of each key to its creator
(read through :mod:`adapters.files.keyfile`, which follows changes without a restart).
A presented key is hashed and looked up by its digest: the lookup's timing can reveal something
about a digest at most, and a digest reveals nothing about a key. The admin token, which is
compared as it is, is compared in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.files.exceptions import KeyFileError
from adapters.files.keyfile import KeyFile, read_key_file
from serving_layer.exceptions import ServingConfigError
from viewcount.events import valid_id
from viewcount.settings import MIN_ADMIN_TOKEN

@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the admin, or one creator."""

    creator_id: str | None          # None: the admin

    @property
    def is_admin(self) -> bool:
        return self.creator_id is None

    def may_read(self, creator_id: str | None) -> bool:
        return self.is_admin or (creator_id is not None and creator_id == self.creator_id)

    @property
    def name(self) -> str:
        return "admin" if self.is_admin else f"creator:{self.creator_id}"


ADMIN = Principal(None)


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def new_api_key() -> str:
    """A fresh creator key: 32 random bytes, URL-safe."""
    return "vck_" + secrets.token_urlsafe(32)


def load_api_keys(path: str, reload: bool = False) -> Mapping[str, str] | KeyFile:
    """``API_KEYS_FILE`` → {digest: creator_id}; empty when no file is configured. With
    ``reload``, a :class:`KeyFile` that follows changes to the file within a second (issued and
    revoked keys take effect without a restart)."""
    if not path:
        return {}
    try:
        if reload:
            return KeyFile(path, valid_id, "API keys file", "creator_id")
        return read_key_file(path, valid_id, "API keys file", "creator_id")
    except KeyFileError as e:
        raise ServingConfigError(str(e)) from e


class Authenticator:
    def __init__(self, admin_token: str, api_keys: Mapping[str, str] | KeyFile) -> None:
        if admin_token and len(admin_token) < MIN_ADMIN_TOKEN:
            raise ServingConfigError(f"the admin token must be at least {MIN_ADMIN_TOKEN} characters")
        self._admin = admin_token.encode() if admin_token else None
        self._keys = api_keys

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The caller of an ``Authorization: Bearer …`` header, or None (→ 401)."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if self._admin is not None and hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self._admin):
            return ADMIN
        creator = self._keys.get(key_digest(token))
        return Principal(creator) if creator is not None else None
