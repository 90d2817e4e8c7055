"""Tencent Cloud API 3.0 as the task codecs of Tencent (Hunyuan video on VCLM: ``hunyuan.py``; the Hunyuan
world panorama on MPS: ``hunyuan_panorama.py``) call it: one JSON ``POST`` to the service's host with the
action in ``X-TC-Action``, signed TC3-HMAC-SHA256 from the channel's ``SecretId|SecretKey``
(``signing.tc3_authorization``), and answers ``{Response: {..., RequestId}}`` whose errors are an HTTP 200
``Response.Error {Code, Message}``: ``AuthFailure.*`` an auth error, ``RequestLimitExceeded*`` /
``LimitExceeded*`` a rate limit, ``InvalidParameter*`` / ``MissingParameter`` / ``UnknownParameter`` a 400,
the rest an upstream error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from omnirouter.ir import ErrorKind, GatewayError, kind_for_status
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import Answer, UpstreamCall, json_object
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.protocols.tasks.signing import TC3_CONTENT_TYPE, tc3_authorization
from omnirouter.protocols.tasks.video_common import text

__all__ = ["DEFAULT_REGION", "tc3_call", "tc_decode_error", "tc_error_kind", "tc_response"]

DEFAULT_REGION = "ap-guangzhou"


def tc3_call(
    action: str,
    body: Mapping[str, Any],
    target: TaskTarget,
    *,
    version: str,
    service: str,
    base_url: str | None = None,
    service_option: str | None = "service",
) -> UpstreamCall:
    """The signed call of ``action`` with ``body`` to ``base_url`` (default: the channel's); the channel's
    option ``region`` wins over ``ap-guangzhou``, and its option named ``service_option`` (None: none) over
    ``service``."""
    secret_id, sep, secret_key = target.upstream_key.partition("|")
    if not sep or not secret_id or not secret_key:
        raise GatewayError(
            ErrorKind.AUTHENTICATION, "a Tencent Cloud channel's key must be SecretId|SecretKey", status=401
        )
    payload = client_json(body)
    parts = urlsplit(base_url or target.base_url)
    path = (parts.path.rstrip("/") or "") + "/"
    now = int(target.now)
    authorization = tc3_authorization(
        secret_id,
        secret_key,
        service=target.options.get(service_option, service) if service_option else service,
        host=parts.netloc,
        path=path,
        payload=payload,
        now=now,
    )
    headers = {
        "Authorization": authorization,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Region": target.options.get("region", DEFAULT_REGION),
        "X-TC-Timestamp": str(now),
    }
    where = f"{parts.scheme}://{parts.netloc}{path}" if base_url else "/"
    return UpstreamCall(where, payload, content_type=TC3_CONTENT_TYPE, headers=headers)


def tc_error_kind(code: str) -> ErrorKind:
    """The kind of a Tencent Cloud error code."""
    if code.startswith("AuthFailure"):
        return ErrorKind.AUTHENTICATION
    if code.startswith(("RequestLimitExceeded", "LimitExceeded")):
        return ErrorKind.RATE_LIMIT
    if code.startswith(("InvalidParameter", "MissingParameter", "UnknownParameter")):
        return ErrorKind.INVALID_REQUEST
    return ErrorKind.UPSTREAM


def tc_response(answer: Answer, vendor: str) -> dict[str, Any]:
    """``Response`` of an answer; its ``Error`` raises."""
    parsed = json_object(answer.body, vendor)
    response = parsed.get("Response")
    if not isinstance(response, dict):
        raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned an unexpected answer shape")
    error = response.get("Error")
    if isinstance(error, dict):
        code = text(error.get("Code")) or "InternalError"
        raise GatewayError(tc_error_kind(code), f"{vendor}: {text(error.get('Message')) or code}", code=code)
    return response


def tc_decode_error(status: int, body: bytes, vendor: str) -> GatewayError:
    """A non-2xx answer: its ``Response.Error`` when it has one, else the HTTP status."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    response = parsed.get("Response") if isinstance(parsed, dict) else None
    error = response.get("Error") if isinstance(response, dict) else None
    if isinstance(error, dict):
        code = text(error.get("Code")) or "InternalError"
        return GatewayError(tc_error_kind(code), f"{vendor}: {text(error.get('Message')) or code}", code=code)
    return GatewayError(kind_for_status(status), f"{vendor} returned HTTP {status}", status=status)
