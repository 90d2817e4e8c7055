"""Request signing of the vendors whose credential is a pair ``ACCESS_KEY|SECRET_KEY``: pure functions of
the pair, the request's parts and the clock (``TaskTarget.now``), so codecs stay pure and tests can check
a signature against a reference computation.

* Kling: an HS256 JWT (``iss`` = access key, ``exp`` = now + 1800, ``nbf`` = now − 5, header
  ``{"alg": "HS256", "typ": "JWT"}``) signed with the secret key, sent as ``Authorization: Bearer``.
  Built with PyJWT (the maintained JOSE library) rather than by hand, imported at the first token.
* Volcengine (Jimeng, ``visual.volcengineapi.com``): signature V4 — canonical request (method, path,
  sorted query, the signed headers ``content-type;host;x-content-sha256;x-date``, the body's SHA-256),
  string to sign ``HMAC-SHA256\\n{X-Date}\\n{yyyymmdd}/{region}/{service}/request\\n{sha256(canonical)}``,
  key ``HMAC(HMAC(HMAC(HMAC(secret, yyyymmdd), region), service), "request")``; region ``cn-north-1``,
  service ``cv``.
* Tencent Cloud API 3.0 (Hunyuan video, ``vclm.tencentcloudapi.com``): TC3-HMAC-SHA256 — canonical request
  (``POST``, path, empty query, the signed headers ``content-type;host``, the body's SHA-256), string to
  sign ``TC3-HMAC-SHA256\n{timestamp}\n{yyyy-mm-dd}/{service}/tc3_request\n{sha256(canonical)}``, key
  ``HMAC(HMAC(HMAC("TC3" + secret, yyyy-mm-dd), service), "tc3_request")``, with the content type
  ``application/json``: what Tencent's own SDK (``tencentcloud-sdk-python-common``) signs, so the header is
  the SDK's byte for byte (``tests/protocols/test_task_signers.py``; the Volcengine signer is likewise checked
  against the ``volcengine`` SDK's ``SignerV4``).

(These live in ``protocols`` rather than ``providers``: codecs may not import providers.)
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote

from omnirouter.ir import ErrorKind, GatewayError

__all__ = [
    "KLING_TOKEN_REUSE",
    "KLING_TOKEN_SECONDS",
    "TC3_CONTENT_TYPE",
    "KlingTokens",
    "kling_jwt",
    "split_pair",
    "tc3_authorization",
    "volcengine_headers",
]

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
    """Kling's bearer token for ``now`` (unix seconds).  PyJWT (with ``cryptography``, ~12 MB) is imported at
    the first token, not by every worker: a token is reused for ``KLING_TOKEN_REUSE`` seconds."""
    import jwt

    claims = {"iss": access_key, "exp": int(now) + KLING_TOKEN_SECONDS, "nbf": int(now) - 5}
    return jwt.encode(claims, secret_key, algorithm="HS256", headers={"typ": "JWT"})


KLING_TOKEN_REUSE = 300
"""Seconds one Kling token is reused for: it then still has at least 25 of its 30 minutes to live."""


class KlingTokens:
    """Kling tokens reused for ``KLING_TOKEN_REUSE`` seconds per key pair instead of signed per call (a
    poll's JWT cost ~3 % of its CPU).  ``token`` signs anew when the cached one was made more than that
    long ago, or after ``now`` (a clock moved back)."""

    def __init__(self, reuse: float = KLING_TOKEN_REUSE, most: int = 1024) -> None:
        self.reuse = reuse
        self.most = most
        self._made: dict[tuple[str, str], tuple[float, str]] = {}

    def token(self, access_key: str, secret_key: str, now: float) -> str:
        """A valid token for ``now``: the cached one while young enough, else a fresh ``kling_jwt``."""
        pair = (access_key, secret_key)
        made = self._made.get(pair)
        if made is not None and made[0] <= now < made[0] + self.reuse:
            return made[1]
        if len(self._made) >= self.most:
            self._made.clear()
        token = kling_jwt(access_key, secret_key, now)
        self._made[pair] = (now, token)
        return token


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


TC3_CONTENT_TYPE = "application/json"
"""The content type a TC3-signed JSON call is sent (and signed) with, as Tencent's SDK sends it."""


def tc3_authorization(
    secret_id: str, secret_key: str, *, service: str, host: str, path: str, payload: bytes, now: int
) -> str:
    """The ``Authorization`` header of Tencent Cloud API 3.0 (TC3-HMAC-SHA256) for one JSON ``POST`` sent with
    ``Content-Type: TC3_CONTENT_TYPE`` and ``X-TC-Timestamp: now``."""
    date = time.strftime("%Y-%m-%d", time.gmtime(now))
    signed_headers = "content-type;host"
    canonical_headers = f"content-type:{TC3_CONTENT_TYPE}\nhost:{host}\n"
    payload_hash = hashlib.sha256(payload).hexdigest()
    canonical = "\n".join(("POST", path, "", canonical_headers, signed_headers, payload_hash))
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{now}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signing = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
