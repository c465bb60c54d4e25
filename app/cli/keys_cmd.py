"""`viewcount keys issue CREATOR_ID | list | revoke KEY_PREFIX`: creator API keys (CONTRACT §4).

``API_KEYS_FILE`` keeps the contract's shape, SHA-256 hex → creator_id (§5). When each key was
issued is kept beside it, in ``API_KEYS_FILE.issued`` (digest → creator and time; no secret), so
``keys list`` can say it. Both are rewritten atomically, 0600. A running API re-reads the keys
file within a second of a change: an issued key works and a revoked one is refused, without a
restart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from viewcount.errors import ViewcountError
from viewcount.events import valid_id
from viewcount.timeutil import format_ms, now_ms

MIN_PREFIX = 8


def register(commands) -> None:
    keys = commands.add_parser("keys", help="creator API keys: issue, list, revoke").add_subparsers(
        dest="keys_command", metavar="ACTION", required=True)
    issue = keys.add_parser("issue", help="issue a creator API key: print it once, store only its SHA-256",
                            description="Adds sha256(new key) → CREATOR_ID to VIEWCOUNT_API_KEYS_FILE "
                                        "(created if missing, rewritten atomically, 0600) and prints the key. "
                                        "The key is not stored anywhere: hand it to the creator now.")
    issue.add_argument("creator_id", metavar="CREATOR_ID")
    listing = keys.add_parser("list", help="the keys: digest prefix, creator, when issued",
                              description="One line per key of VIEWCOUNT_API_KEYS_FILE: the first 12 hex digits "
                                          "of its SHA-256 (what `keys revoke` takes), its creator, when it was "
                                          "issued (`-` for a key added by hand).")
    listing.add_argument("--creator", metavar="CREATOR_ID", help="only this creator's keys")
    revoke = keys.add_parser("revoke", help="revoke a key by its digest prefix (a running API refuses it within 5 s)",
                             description="Removes the one key whose SHA-256 starts with KEY_PREFIX (at least "
                                         f"{MIN_PREFIX} hex digits, from `keys list`; the key itself works too). "
                                         "A running API re-reads the file within a second: no restart.")
    revoke.add_argument("key_prefix", metavar="KEY_PREFIX")
    for sub, run in ((issue, run_issue), (listing, run_list), (revoke, run_revoke)):
        sub.add_argument("--file", help="the keys file (default: VIEWCOUNT_API_KEYS_FILE)")
        sub.set_defaults(run=run)


def _paths(args, settings) -> tuple[str, str]:
    path = args.file or settings.api_keys_file
    if not path:
        raise ViewcountError("no keys file: set VIEWCOUNT_API_KEYS_FILE or pass --file")
    return path, path + ".issued"


def _read(path: str) -> dict[str, str]:
    from serving_layer.auth import load_api_keys

    return dict(load_api_keys(path)) if Path(path).exists() else {}


def _issued(path: str) -> dict[str, dict]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ViewcountError(f"{path}: {e}") from e
    return raw if isinstance(raw, dict) else {}


def run_issue(args, settings) -> int:
    from adapters.files.keyfile import write_json_0600
    from serving_layer.auth import key_digest, new_api_key

    path, issued_path = _paths(args, settings)
    if not valid_id(args.creator_id):
        raise ViewcountError("CREATOR_ID must match ^[A-Za-z0-9_-]{1,64}$")
    keys, issued = _read(path), _issued(issued_path)
    key = new_api_key()
    digest = key_digest(key)
    keys[digest] = args.creator_id
    issued[digest] = {"creator_id": args.creator_id, "created": format_ms(now_ms())}
    write_json_0600(issued_path, issued)   # first: a key is never live without its issue time
    write_json_0600(path, keys)
    print(key)
    print(f"issued key {digest[:12]} for {args.creator_id}; {path} holds only its SHA-256", file=sys.stderr)
    return 0


def run_list(args, settings) -> int:
    path, issued_path = _paths(args, settings)
    keys, issued = _read(path), _issued(issued_path)
    rows = sorted(((issued.get(d, {}).get("created", "-"), d[:12], c) for d, c in keys.items()
                   if args.creator is None or c == args.creator), key=lambda r: (r[2], r[0], r[1]))
    print(f"{'DIGEST':12}  {'CREATOR':24}  CREATED")
    for created, prefix, creator in rows:
        print(f"{prefix:12}  {creator:24}  {created}")
    print(f"{len(rows)} key(s) in {path}", file=sys.stderr)
    return 0


def run_revoke(args, settings) -> int:
    from adapters.files.keyfile import write_json_0600
    from serving_layer.auth import key_digest

    path, issued_path = _paths(args, settings)
    keys = _read(path)
    given = args.key_prefix.strip()
    if given.startswith("vck_"):
        prefix = key_digest(given)
    elif len(given) >= MIN_PREFIX and all(ch in "0123456789abcdef" for ch in given.lower()):
        prefix = given.lower()
    else:
        raise ViewcountError(f"KEY_PREFIX must be at least {MIN_PREFIX} hex digits of a key's SHA-256 "
                             "(see `viewcount keys list`), or the key itself")
    matches = [d for d in keys if d.startswith(prefix)]
    if not matches:
        raise ViewcountError(f"no key in {path} starts with {prefix[:12]}")
    if len(matches) > 1:
        raise ViewcountError(f"{prefix} matches {len(matches)} keys; give more digits")
    digest = matches[0]
    creator = keys.pop(digest)
    write_json_0600(path, keys)
    issued = _issued(issued_path)
    if digest in issued:
        issued[digest]["revoked"] = format_ms(now_ms())
        write_json_0600(issued_path, issued)
    print(f"revoked key {digest[:12]} of {creator}; a running API refuses it within a second")
    return 0
