"""Request signing of the vendors whose credential is a pair ``ACCESS_KEY|SECRET_KEY``: pure functions of
the pair, the request's parts and the clock (``TaskTarget.now``), so codecs stay pure and tests can check
a signature against a reference computation.

* Kling: an HS256 JWT (``iss`` = access key, ``exp`` = now + 1800, ``nbf`` = now − 5, header
  ``{"alg": "HS256", "typ": "JWT"}``) signed with the secret key, sent as ``Authorization: Bearer``.
  Built with PyJWT (the maintained JOSE library) rather than by hand.
* Volcengine (Jimeng, ``visual.volcengineapi.com``): signature V4 — canonical request (method, path,
  sorted query, the signed headers ``content-type;host;x-content-sha256;x-date``, the body's SHA-256),
  string to sign ``HMAC-SHA256\\n{X-Date}\\n{yyyymmdd}/{region}/{service}/request\\n{sha256(canonical)}``,
  key ``HMAC(HMAC(HMAC(HMAC(secret, yyyymmdd), region), service), "request")``; region ``cn-north-1``,
  service ``cv``.  (These live in ``protocols`` rather than ``providers``: codecs may not import providers.)
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote

import jwt

from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["KLING_TOKEN_SECONDS", "kling_jwt", "split_pair", "volcengine_headers"]

KLING_TOKEN_SECONDS = 1800


def split_pair(key: str, vendor: str) -> tuple[str, str]:
    """``(access key, secret key)`` of a channel key ``ACCESS|SECRET``; an upstream error (naming neither)
    when the channel's key is not a pair."""
    access, sep, secret = key.partition("|")
    if not sep or not access.strip() or not secret.strip():
        raise GatewayError(
            ErrorKind.UPSTREAM, f"the channel's {vendor} key must be a pair ACCESS_KEY|SECRET_KEY", code="channel_key"
        )
    return access.strip(), secret.strip()


def kling_jwt(access_key: str, secret_key: str, now: float) -> str:
    """Kling's bearer token for ``now`` (unix seconds)."""
    claims = {"iss": access_key, "exp": int(now) + KLING_TOKEN_SECONDS, "nbf": int(now) - 5}
    return jwt.encode(claims, secret_key, algorithm="HS256", headers={"typ": "JWT"})


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def volcengine_headers(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    content_type: str,
    now: float,
    region: str = "cn-north-1",
    service: str = "cv",
) -> dict[str, str]:
    """The headers of a Volcengine V4 signed request (``Authorization``, ``X-Date``, ``X-Content-Sha256``,
    ``Content-Type``; the HTTP client sends ``Host`` itself)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    day = stamp[:8]
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
    signed = "content-type;host;x-content-sha256;x-date"
    canonical_headers = f"content-type:{content_type}\nhost:{host}\nx-content-sha256:{payload_hash}\nx-date:{stamp}\n"
    canonical = "\n".join([method, path or "/", canonical_query, canonical_headers, signed, payload_hash])
    scope = f"{day}/{region}/{service}/request"
    to_sign = "\n".join(["HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(secret_key.encode(), day), region), service), "request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Authorization": f"HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}",
        "X-Date": stamp,
        "X-Content-Sha256": payload_hash,
        "Content-Type": content_type,
    }
