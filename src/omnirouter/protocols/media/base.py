"""What a media codec provides: the client side of an endpoint (``MediaInbound``) and one vendor's wire
format for one kind of call (``MediaUpstream``).  Both are pure: the relay (``relay/media.py``) does the I/O.

An upstream codec builds ``UpstreamCall``s and reads answers.  Most vendors answer the first call; an
asynchronous one (FLUX, DashScope wanx) answers with a ``Followup``: the next call to make (poll, then
download a short-lived result), after a pause, handled by the named ``step`` of ``parse``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol, TypeVar

import orjson

from omnirouter.ir import Budget, ErrorKind, GatewayError

__all__ = [
    "NO_HEADERS",
    "Answer",
    "Followup",
    "MediaInbound",
    "MediaUpstream",
    "Target",
    "UpstreamCall",
    "estimated_tokens",
    "invalid",
    "json_object",
    "required_model",
]

Req = TypeVar("Req")
Req_contra = TypeVar("Req_contra", contravariant=True)
Res_co = TypeVar("Res_co", covariant=True)
Res_contra = TypeVar("Res_contra", contravariant=True)

NO_HEADERS: Mapping[str, str] = {}


class UpstreamCall(NamedTuple):
    """One HTTP call to an upstream.

    ``path`` is appended to the channel's base URL unless it is a whole URL (``http…``: a polling or
    download URL the vendor gave).  ``auth``: send the channel's auth headers (never to a URL the vendor
    handed out: a signed download link on another host must not see the key).  ``headers`` are added
    to (and win over) the channel's.  ``stream``: the answer is read as it arrives (audio, SSE).
    """

    path: str
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = NO_HEADERS
    method: str = "POST"
    auth: bool = True
    stream: bool = False


class Target(NamedTuple):
    """What an upstream codec may know of the attempt: the model the upstream knows, the channel's
    ``options`` (vendor settings such as Volcengine's ``app_id``), the upstream key (for vendors
    that want it in the body, never logged) and the channel's base URL (to tell whether a URL the
    vendor hands out is on the vendor's own host, where the key may go)."""

    upstream_model: str
    options: Mapping[str, str]
    upstream_key: str
    base_url: str = ""


class Answer(NamedTuple):
    """An upstream's answer to one call: status, headers (lower-case names) and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Followup(NamedTuple):
    """The next call a vendor needs (the next batch, a poll, a download), after ``delay`` seconds.

    ``parse`` gets it back with the answer to ``call``: ``step`` names what that answer is, ``carry``
    holds what earlier calls gave (vectors of earlier batches, a task id).
    """

    call: UpstreamCall
    step: str
    delay: float = 0.0
    carry: Any = None


class MediaInbound(Protocol[Req, Res_contra]):
    """The client side of one media endpoint in one wire format (OpenAI's ``/v1/embeddings``, ...).

    ``decode`` checks and types the body (a 4xx ``GatewayError`` names the bad field); ``encode``
    writes a result for the client under the public model name it asked for: ``(body, content type)``.
    """

    protocol: str
    """The client's protocol as the usage row names it."""

    def decode(self, body: bytes, content_type: str, model: str | None) -> Req:
        """The request; ``model`` is set when the route carries it (Gemini's URL)."""
        ...

    def budget(self, request: Req, body_size: int) -> Budget:
        """The most the request may use (tokens and metered units)."""
        ...

    def encode(self, result: Res_contra, request: Req, public_model: str) -> tuple[bytes, bytes]: ...

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]: ...


class MediaUpstream(Protocol[Req_contra, Res_co]):
    """One vendor's wire format for one kind of media call."""

    def build(self, request: Req_contra, target: Target) -> UpstreamCall:
        """The first call (a 4xx ``GatewayError`` when the request asks what this vendor cannot do)."""
        ...

    def parse(self, answer: Answer, request: Req_contra, target: Target, step: Followup | None) -> Res_co | Followup:
        """A 2xx answer (to the first call when ``step`` is None, else to ``step.call``) as a result, or the
        next call.  Errors a vendor reports inside a 2xx body raise a
        ``GatewayError`` (the attempt fails over and nothing is charged)."""
        ...

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        """A non-2xx answer as an error."""
        ...


def invalid(message: str, param: str | None) -> GatewayError:
    """A 400 naming ``param`` (the field the client got wrong)."""
    return GatewayError(ErrorKind.INVALID_REQUEST, message, param=param)


def required_model(body: dict[str, Any]) -> str:
    """A JSON body's ``model``: a non-empty string, else a 400 naming it."""
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise invalid("'model' is required and must be a string.", "model")
    return name


def json_object(body: bytes, vendor: str) -> dict[str, Any]:
    """An upstream's JSON answer as an object, else an upstream error naming ``vendor``."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned an answer that is not JSON") from None
    if not isinstance(parsed, dict):
        raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned an unexpected answer shape")
    return parsed


def estimated_tokens(texts: list[str]) -> int:
    """Tokens of ``texts`` when the upstream reports none: about four UTF-8 bytes a token (marked estimated)."""
    return sum((len(text.encode()) + 3) // 4 for text in texts)
