"""Wire conventions (auth, error bodies) of the video task vendors Kling, Vidu and Jimeng.

Pairs: Kling and Jimeng sign with a secret key; the mock knows the secret of access key ``AK`` by a
fixed rule: ``"sk-" + sha256(AK).hexdigest()[:32]`` (``mock_secret``; 35 bytes, as HS256 wants at
least 32), so a test channel's key is ``f"ak1|{mock_secret('ak1')}"``.
Kling: ``Authorization: Bearer <JWT>``, checked with PyJWT (HS256, the secret of its ``iss``, ``exp``
in the future, ``nbf`` past). Jimeng: Volcengine V4 recomputed here from the request (signed headers,
sorted query, body SHA-256 equal to ``X-Content-Sha256``, ``X-Date`` within 15 minutes). An access key
starting with ``bad`` or ``invalid`` is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote

import jwt
from aiohttp import web

from omnirouter.mock_upstream.core import json_response
from omnirouter.mock_upstream.media_wires import VendorWire, bearer

RAW_BODY = web.RequestKey("omnirouter_mock_raw_body", bytes)
"""The raw body of a request whose signature covers it (set by the handler before ``begin``)."""


def mock_secret(access_key: str) -> str:
    """The secret key the mock expects with ``access_key``."""
    return "sk-" + hashlib.sha256(access_key.encode()).hexdigest()[:32]


class KlingWire(VendorWire):
    """Kling: a JWT per request; ``{code, message, request_id}`` errors (1000s auth)."""

    name = "kling"
    _CODES = {400: 1200, 401: 1002, 402: 1102, 403: 1103, 404: 1203, 429: 1302, 500: 5000, 503: 5001}

    def check_auth(self, request: web.Request) -> web.Response | None:
        """Refuse a missing, malformed, expired or wrongly signed token."""
        token = bearer(request)
        if not token:
            return self.error(401, "Auth failed: Authorization is empty", code="1001")
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if not isinstance(issuer, str) or not issuer or issuer.startswith(("bad", "invalid")):
                return self.error(401, "Auth failed: Authorization is invalid", code="1002")
            jwt.decode(token, mock_secret(issuer), algorithms=["HS256"], options={"require": ["exp", "nbf", "iss"]})
        except jwt.ExpiredSignatureError:
            return self.error(401, "Auth failed: Authorization has expired", code="1004")
        except jwt.PyJWTError:
            return self.error(401, "Auth failed: Authorization is invalid", code="1002")
        return None

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"code", "message", "request_id"}``."""
        number = int(code) if code and code.isdigit() else self._CODES.get(status, 5000)
        return {"code": number, "message": message, "request_id": "mock-request"}


class ViduWire(VendorWire):
    """Vidu: ``Authorization: Token <key>``; ``{code, reason, message, metadata}`` errors."""

    name = "vidu"
    missing = "missing token"
    invalid = "invalid token"

    def key(self, request: web.Request) -> str:
        """The key after ``Token ``."""
        auth = request.headers.get("Authorization", "")
        return auth[6:].strip() if auth[:6].lower() == "token " else ""

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"code", "reason", "message", "metadata"}``."""
        reason = code or {401: "Unauthorized", 404: "TaskNotFound", 429: "TooManyRequests"}.get(status, "BadRequest")
        return {"code": status, "reason": reason, "message": message, "metadata": {}}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class JimengWire(VendorWire):
    """Jimeng (Volcengine visual): V4 signatures; ``ResponseMetadata.Error`` for auth, ``{code, message}``
    for the rest (codes 50xxx)."""

    name = "jimeng"
    _CODES = {400: 50400, 401: 50401, 429: 50429, 500: 50500, 503: 50501}

    def check_auth(self, request: web.Request) -> web.Response | None:
        """Recompute the request's V4 signature."""
        problem = self._verify(request)
        if problem is None:
            return None
        code, message = problem
        meta: dict[str, Any] = {"RequestId": "mock", "Action": request.query.get("Action", ""), "Version": "2022-08-31"}
        meta |= {"Service": "cv", "Region": "cn-north-1", "Error": {"Code": code, "Message": message}}
        return json_response({"ResponseMetadata": meta}, status=401)

    def _verify(self, request: web.Request) -> tuple[str, str] | None:
        auth = request.headers.get("Authorization", "")
        algorithm, _, rest = auth.partition(" ")
        parts = dict(p.strip().partition("=")[::2] for p in rest.split(","))
        credential = parts.get("Credential", "").split("/")
        if algorithm != "HMAC-SHA256" or len(credential) != 5 or not parts.get("Signature"):
            return "MissingAuthenticationToken", "the request has no valid Authorization header"
        access, day, region, service, terminator = credential
        if access.startswith(("bad", "invalid")) or (region, service, terminator) != ("cn-north-1", "cv", "request"):
            return "InvalidAccessKey", "the access key or its scope is invalid"
        stamp = request.headers.get("X-Date", "")
        try:
            when = time.mktime(time.strptime(stamp, "%Y%m%dT%H%M%SZ")) - time.timezone
        except ValueError:
            return "InvalidTimestamp", "X-Date must be yyyymmddTHHMMSSZ"
        if abs(time.time() - when) > 900 or stamp[:8] != day:
            return "SignatureExpired", "X-Date is more than 15 minutes away"
        body = request.get(RAW_BODY, b"")
        payload = hashlib.sha256(body).hexdigest()
        if request.headers.get("X-Content-Sha256") != payload:
            return "InvalidContentSha256", "X-Content-Sha256 does not match the body"
        signed = parts.get("SignedHeaders", "")
        names = signed.split(";")
        headers = "".join(f"{n}:{request.headers.get(n, '').strip()}\n" for n in names)
        query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(request.query.items()))
        canonical = "\n".join([request.method, request.path, query, headers, signed, payload])
        scope = f"{day}/{region}/{service}/request"
        to_sign = f"HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = _hmac(_hmac(_hmac(_hmac(mock_secret(access).encode(), day), region), service), "request")
        if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), parts["Signature"]):
            return (
                "SignatureDoesNotMatch",
                "the request signature we calculated does not match the signature you provided",
            )
        return None

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"code", "message", "request_id", "data": null}``."""
        number = int(code) if code and code.isdigit() else self._CODES.get(status, 50500)
        return {"code": number, "message": message, "request_id": "mock-request", "data": None, "status": number}


KLING = KlingWire()
VIDU = ViduWire()
JIMENG = JimengWire()
