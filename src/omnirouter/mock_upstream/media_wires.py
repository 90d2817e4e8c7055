"""Wire conventions (auth header, error body) of the media vendors: Cohere, Jina, Voyage, DashScope,
MiniMax, Volcengine (v1 and v3 speech, Ark), ElevenLabs and Black Forest Labs.

Every vendor accepts any non-empty key; a key starting with ``bad`` or ``invalid`` is refused in the
vendor's own error shape (MiniMax refuses inside an HTTP 200 body, as it does for real).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream.core import Wire, json_response, retry_after_value
from omnirouter.mock_upstream.directives import Directive


def bearer(request: web.Request) -> str:
    """The key of an ``Authorization: Bearer <key>`` header."""
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


class VendorWire(Wire):
    """A vendor whose errors are one JSON object built by ``shape``."""

    missing = "missing API key"
    invalid = "invalid API key"
    auth_status = 401
    body_code: str | None = None  # the vendor code a ``body_error: true`` directive answers with

    def key(self, request: web.Request) -> str:
        """The request's key (Bearer by default)."""
        return bearer(request)

    def check_auth(self, request: web.Request) -> web.Response | None:
        """Refuse a missing key or one starting with ``bad``/``invalid``."""
        key = self.key(request)
        if not key:
            return self.error(self.auth_status, self.missing, "auth")
        if key.startswith(("bad", "invalid")):
            return self.error(self.auth_status, self.invalid, "auth")
        return None

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """The error body."""
        return {"message": message}

    def error(
        self,
        status: int,
        message: str,
        error_type: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> web.Response:
        """An error response with ``shape``'s body."""
        hdrs = dict(headers or {})
        if retry_after is not None:
            hdrs["retry-after"] = retry_after_value(retry_after)
        return json_response(self.shape(status, message, error_type, code), status=status, headers=hdrs)

    def stream_error(self, status: int, message: str, error_type: str | None, seq: int) -> bytes:
        """``data: <error body>``."""
        return b"data: " + orjson.dumps(self.shape(status, message, error_type, None)) + b"\n\n"


class CohereWire(VendorWire):
    """Cohere: Bearer; ``{"id", "message"}``."""

    name = "cohere"
    missing = "no api key supplied"
    invalid = "invalid api token"

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"id", "message"}``."""
        return {"id": "mock-error-0000", "message": message}


class DetailWire(VendorWire):
    """FastAPI-style ``{"detail": message}`` (Jina, Voyage, BFL)."""

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"detail": message}``."""
        return {"detail": message}


class JinaWire(DetailWire):
    """Jina: Bearer."""

    name = "jina"
    missing = "Unauthorized: missing API key"
    invalid = "Unauthorized: invalid API key"


class VoyageWire(DetailWire):
    """Voyage: Bearer."""

    name = "voyage"
    missing = "No API key provided. You can set your API key in code using 'voyageai.api_key = <API-KEY>'."
    invalid = "Provided API key is invalid."


class BflWire(DetailWire):
    """Black Forest Labs: ``x-key``; 403 ``{"detail"}`` on auth."""

    name = "bfl"
    missing = "Not authenticated"
    invalid = "Invalid API key"
    auth_status = 403

    def key(self, request: web.Request) -> str:
        """The ``x-key`` header."""
        return request.headers.get("x-key", "").strip()


_DASHSCOPE_CODES = {
    400: "InvalidParameter",
    401: "InvalidApiKey",
    403: "AccessDenied",
    404: "ModelNotFound",
    429: "Throttling.RateQuota",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class DashScopeWire(VendorWire):
    """DashScope (Alibaba): Bearer; ``{"code", "message", "request_id"}``."""

    name = "dashscope"
    missing = "No API-key provided."
    invalid = "Invalid API-key provided."
    body_code = "InvalidParameter"

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"code", "message", "request_id"}``."""
        name = code or error_type if error_type != "auth" else "InvalidApiKey"
        return {
            "code": name or _DASHSCOPE_CODES.get(status, "InternalError"),
            "message": message,
            "request_id": "mock-request-0000",
        }

    def stream_error(self, status: int, message: str, error_type: str | None, seq: int) -> bytes:
        """An SSE ``event:error`` frame, as DashScope streams it."""
        return b"id:%d\nevent:error\n:HTTP_STATUS/%d\ndata:%s\n\n" % (
            seq + 1,
            status,
            orjson.dumps(self.shape(status, message, error_type, None)),
        )


_MINIMAX_CODES = {400: 2013, 401: 1004, 402: 1008, 429: 1002, 500: 1000, 503: 1001}


class MiniMaxWire(VendorWire):
    """MiniMax: Bearer; errors in ``base_resp: {status_code, status_msg}``, bad keys inside an HTTP 200."""

    name = "minimax"
    missing = "login fail: Please carefully check the correctness of the API key you filled in"
    invalid = missing
    auth_status = 200
    body_code = "1004"

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"trace_id", "base_resp": {status_code, status_msg}}``."""
        number = int(code) if code and code.isdigit() else (1004 if error_type == "auth" else None)
        return {
            "trace_id": "mock-trace-0000",
            "base_resp": {"status_code": number or _MINIMAX_CODES.get(status, 1000), "status_msg": message},
        }


_VOLC_V1_CODES = {400: 3001, 401: 3001, 429: 3003, 500: 3031, 503: 3005}


class VolcV1Wire(VendorWire):
    """Volcengine speech v1: ``Authorization: Bearer;<token>``; ``{"reqid", "code", "message"}``."""

    name = "volcengine"
    missing = "authenticate request: load grant: requested grant not found"
    invalid = "authenticate request: load grant: invalid token"
    body_code = "3001"

    def key(self, request: web.Request) -> str:
        """The token after ``Bearer;`` (``Bearer <token>`` is also accepted)."""
        auth = request.headers.get("Authorization", "")
        return auth[7:].strip() if auth[:7].lower() in ("bearer;", "bearer ") else ""

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"reqid", "code", "message", "sequence"}``."""
        number = int(code) if code and code.isdigit() else _VOLC_V1_CODES.get(status, 3031)
        return {"reqid": "", "code": number, "message": message, "sequence": 0}


class VolcV3Wire(VendorWire):
    """Volcengine speech v3: ``X-Api-App-Id``, ``X-Api-Access-Key``, ``X-Api-Resource-Id``; ``{"code", "message"}``."""

    name = "volcengine"
    missing = "requested resource not granted: missing X-Api-App-Id, X-Api-Access-Key or X-Api-Resource-Id"
    invalid = "load grant: invalid access key"
    body_code = "45000001"

    def key(self, request: web.Request) -> str:
        """The access key, when all three headers are present."""
        h = request.headers
        if not (h.get("X-Api-App-Id") and h.get("X-Api-Resource-Id")):
            return ""
        return h.get("X-Api-Access-Key", "").strip()

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"code", "message", "data": null}`` (45xxxxxx client errors, 55xxxxxx server errors)."""
        number = int(code) if code and code.isdigit() else (45000000 if status < 500 else 55000000)
        return {"code": number, "message": message, "data": None}

    def stream_error(self, status: int, message: str, error_type: str | None, seq: int) -> bytes:
        """One NDJSON error line."""
        return orjson.dumps(self.shape(status, message, error_type, None)) + b"\n"


_ARK_CODES = {
    400: ("InvalidParameter", "BadRequest"),
    401: ("AuthenticationError", "Unauthorized"),
    403: ("AccessDenied", "Forbidden"),
    404: ("InvalidEndpointOrModel.NotFound", "NotFound"),
    429: ("RateLimitExceeded.EndpointRPMExceeded", "TooManyRequests"),
}


class ArkWire(VendorWire):
    """Volcengine Ark: Bearer; ``{"error": {code, message, param, type}}``."""

    name = "ark"
    missing = "The API key in the request is missing or invalid. Request id: mock"
    invalid = missing

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"error": {"code", "message", "param", "type"}}``."""
        default = _ARK_CODES.get(status, ("InternalServiceError", "InternalServerError"))
        kind = default[1] if error_type in (None, "auth") else error_type
        return {"error": {"code": code or default[0], "message": message, "param": "", "type": kind}}


class ElevenLabsWire(VendorWire):
    """ElevenLabs: ``xi-api-key``; ``{"detail": {"status", "message"}}``."""

    name = "elevenlabs"
    missing = "Neither authorization header nor xi-api-key received, please provide one."
    invalid = "Invalid API key"

    def key(self, request: web.Request) -> str:
        """The ``xi-api-key`` header."""
        return request.headers.get("xi-api-key", "").strip()

    def check_auth(self, request: web.Request) -> web.Response | None:
        """401 ``needs_authorization`` without a key, 401 ``invalid_api_key`` for a bad one."""
        key = self.key(request)
        if not key:
            return self.error(401, self.missing, "needs_authorization")
        if key.startswith(("bad", "invalid")):
            return self.error(401, self.invalid, "invalid_api_key")
        return None

    def shape(self, status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
        """``{"detail": {"status", "message"}}``."""
        default = {429: "too_many_concurrent_requests", 422: "invalid_request"}.get(status, "error")
        return {"detail": {"status": code or error_type or default, "message": message}}


COHERE = CohereWire()
JINA = JinaWire()
VOYAGE = VoyageWire()
BFL = BflWire()
DASHSCOPE = DashScopeWire()
MINIMAX = MiniMaxWire()
VOLC_V1 = VolcV1Wire()
VOLC_V3 = VolcV3Wire()
ARK = ArkWire()
ELEVENLABS = ElevenLabsWire()


def body_error(wire: VendorWire, d: Directive, serial: int) -> web.Response | None:
    """For a ``body_error`` directive: HTTP 200 whose body is the vendor's error object."""
    if d.body_error is None or d.body_error is False:
        return None
    code = wire.body_code if d.body_error is True else str(d.body_error)
    message = d.message or "Mock error inside an HTTP 200 body."
    body = wire.shape(400, message, d.error_type, code)
    if "request_id" in body:
        body["request_id"] = f"mock-{serial:012d}"
    return json_response(body)
