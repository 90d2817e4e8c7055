"""Signed, expiring gateway URLs: a task answer links its stored outputs with a URL that works without
the client key until it expires (``/v1/videos/{id}/content?variant=video&expires=…&signature=…``).

The signature is HMAC-SHA256 over the path, the other query parameters (sorted, so their order does not
matter, each covered: a signed ``variant=video`` cannot be turned into another variant) and the expiry
(Unix seconds), base64url without padding; it is checked in constant time.  The secret is shared by every
replica (``storage/signing_secret.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

__all__ = ["EXPIRES", "SIGNATURE", "sign", "signed_url", "verify"]

EXPIRES = "expires"
SIGNATURE = "signature"


def _digest(path: str, params: list[tuple[str, str]], expires_at: int, secret: bytes) -> str:
    canonical = urlencode(sorted(params))
    message = f"{path}\n{canonical}\n{expires_at}".encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign(path: str, expires_at: int, secret: bytes, params: Mapping[str, str] | None = None) -> str:
    """The query string (without ``?``) that makes ``path`` with ``params`` valid until ``expires_at``
    (Unix seconds): ``params`` first, then ``expires`` and ``signature``."""
    if not secret:
        raise ValueError("the signing secret is empty")
    pairs = sorted((params or {}).items())
    if any(key in (EXPIRES, SIGNATURE) for key, _ in pairs):
        raise ValueError(f"params may not contain {EXPIRES!r} or {SIGNATURE!r}")
    signature = _digest(path, pairs, expires_at, secret)
    return urlencode([*pairs, (EXPIRES, str(expires_at)), (SIGNATURE, signature)])


def signed_url(path: str, expires_at: int, secret: bytes, params: Mapping[str, str] | None = None) -> str:
    """``path?query`` as ``sign`` makes it (prefix the gateway's public origin for an absolute URL)."""
    return f"{path}?{sign(path, expires_at, secret, params)}"


def verify(path: str, query: str, now: float, secret: bytes) -> bool:
    """Whether ``query`` (the raw query string of a request for ``path``) carries a valid signature that
    has not expired at ``now`` (Unix seconds).  Any repeated, missing or malformed parameter fails."""
    if not secret:
        return False
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query), max_num_fields=32)
    except ValueError:
        return False
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        return False
    values = dict(pairs)
    expires, signature = values.pop(EXPIRES, None), values.pop(SIGNATURE, None)
    if expires is None or signature is None or not expires.isascii() or not expires.isdigit():
        return False
    expires_at = int(expires)
    expected = _digest(path, sorted(values.items()), expires_at, secret)
    valid = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
    return valid and now < expires_at
