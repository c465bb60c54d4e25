"""What the collector saw of the client, as record headers (CONTRACT §8). Pure.

The raw address is never written: only its network prefix (/24 for IPv4, /48 for IPv6) and an
HMAC of it under a key from the settings, so that invalid-traffic rules can group a client's
events without anyone learning its address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

MAX_USER_AGENT = 512


def ip_prefix(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def ip_hmac(address: str, key: bytes) -> str:
    return hmac.new(key, address.encode(), hashlib.sha256).digest()[:16].hex()


def edge_headers(source: str, user_agent: str | None, address: str, hmac_key: bytes) -> list[tuple[str, bytes]]:
    return [("vc-source", source.encode()),
            ("vc-user-agent", (user_agent or "")[:MAX_USER_AGENT].encode("utf-8", "replace")),
            ("vc-ip-prefix", ip_prefix(address).encode()),
            ("vc-ip-hmac", ip_hmac(address, hmac_key).encode())]
