"""IR parts → Gemini ``Part`` objects (upstream requests and client answers).

Signatures: towards an upstream only Gemini-origin signatures are written and
reasoning of another origin is dropped entirely; towards a client everything is
carried, foreign values wrapped with ``carry.wrap_b64`` (redacted thinking with a
``:redacted`` origin marker).  A text-less Gemini-origin reasoning part (a
signature that came on a text, media or other part) is attached to the next
such part or unsigned ``functionCall`` part, as Gemini sent it; when no such part follows it
becomes ``{"text": "", "thoughtSignature": ...}`` (Gemini's own end-of-stream
form).  ``ToolCallPart.arguments`` that are not a JSON object become ``{}``.
Images by ``http(s)``/``gs://`` URL become ``fileData``; base64 and ``data:``
URIs ``inlineData``.  Files known only by a provider ``file_id`` are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from omnirouter.ir import (
    AudioPart,
    FilePart,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)
from omnirouter.protocols.common import guess_media_type, split_data_uri
from omnirouter.protocols.gemini._shared import PROTOCOL, is_own, media_type_of_url, redacted_out, signature_out


def parse_args(arguments: str) -> dict[str, Any]:
    """A call's JSON arguments as an object; ``{}`` when malformed or not an object."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _inline(data: str, mime: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": data}}


def _media(url: str | None, data: str | None, media_type: str | None, default: str) -> dict[str, Any] | None:
    if data is not None:
        split = split_data_uri(data)
        if split is not None:
            return _inline(split[0], split[1])
        return _inline(data, media_type or guess_media_type(data, default))
    if url is None:
        return None
    split = split_data_uri(url)
    if split is not None:
        return _inline(split[0], split[1])
    ref: dict[str, Any] = {"fileUri": url}
    mime = media_type or media_type_of_url(url) or (default if default.startswith("image/") else None)
    if mime is not None:
        ref["mimeType"] = mime
    return {"fileData": ref}


def encode_media(part: ImagePart | AudioPart | FilePart) -> dict[str, Any] | None:
    """An image, audio or file part as ``inlineData`` / ``fileData``; ``None`` if it has neither."""
    if isinstance(part, ImagePart):
        return _media(part.url, part.data, part.media_type, "image/jpeg")
    if isinstance(part, AudioPart):
        return _inline(part.data, f"audio/{part.format}")
    return _media(part.url, part.data, part.media_type, "application/octet-stream")


def result_response(part: ToolResultPart) -> dict[str, Any]:
    """A tool result's text as the ``functionResponse.response`` object.

    Errors → ``{"error": text}``; text that is a JSON object is sent as that
    object; any other text → ``{"result": text}``.
    """
    text = "\n".join(p.text for p in part.content if isinstance(p, TextPart))
    if part.is_error:
        return {"error": text}
    if text.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict) and value:
            return value
    return {"result": text}


def encode_result(part: ToolResultPart, names: dict[str, str]) -> dict[str, Any]:
    """A ``functionResponse`` part; the name comes from the call when the result has none."""
    response: dict[str, Any] = {"id": part.call_id} if part.call_id else {}
    response["name"] = part.name or names.get(part.call_id) or part.call_id or "unknown"
    response["response"] = result_response(part)
    images = [encode_media(p) for p in part.content if isinstance(p, ImagePart)]
    media = [m for m in images if m is not None]
    if media:
        response["parts"] = media
    return {"functionResponse": response}


def encode_call(part: ToolCallPart) -> dict[str, Any]:
    """The ``functionCall`` object of a tool call (no ``id`` key when the id is empty)."""
    call: dict[str, Any] = {"id": part.id} if part.id else {}
    call["name"] = part.name
    call["args"] = parse_args(part.arguments)
    return call


def _data_part(part: Part, names: dict[str, str]) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ImagePart | AudioPart | FilePart):
        return encode_media(part)
    if isinstance(part, ToolResultPart):
        return encode_result(part, names)
    if isinstance(part, UnknownPart) and part.protocol == PROTOCOL and isinstance(part.data, dict):
        return dict(part.data)
    return None


class _Writer:
    """Accumulates parts, holding a text-less own signature for the next part that can carry it."""

    __slots__ = ("out", "pending")

    def __init__(self) -> None:
        self.out: list[dict[str, Any]] = []
        self.pending: str | None = None

    def flush(self) -> None:
        if self.pending is not None:
            self.out.append({"text": "", "thoughtSignature": self.pending})
            self.pending = None

    def add(self, part: dict[str, Any], *, carries: bool) -> None:
        """Append ``part``; it takes the held signature when it ``carries`` one and has none."""
        if carries and self.pending is not None and "thoughtSignature" not in part:
            part["thoughtSignature"] = self.pending
            self.pending = None
        else:
            self.flush()
        self.out.append(part)


def _reasoning(part: ReasoningPart, writer: _Writer, for_client: bool) -> None:
    own = is_own(part.origin)
    if not own and not for_client:
        return
    if part.redacted is not None:
        if for_client:
            writer.add(
                {"text": part.text, "thought": True, "thoughtSignature": redacted_out(part.redacted, part.origin)},
                carries=False,
            )
        return
    signature = None
    if part.signature is not None:
        signature = signature_out(part.signature, part.origin, for_client=for_client)
    if part.text:
        thought: dict[str, Any] = {"text": part.text, "thought": True}
        if signature is not None:
            thought["thoughtSignature"] = signature
        writer.add(thought, carries=False)
    elif signature is not None:
        writer.flush()
        if own:
            writer.pending = signature
        else:
            writer.out.append({"text": "", "thought": True, "thoughtSignature": signature})


def encode_parts(
    parts: Sequence[Part], *, for_client: bool, names: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """IR parts as Gemini parts, for a client answer or an upstream request."""
    writer = _Writer()
    for part in parts:
        if isinstance(part, ReasoningPart):
            _reasoning(part, writer, for_client)
        elif isinstance(part, ToolCallPart):
            call: dict[str, Any] = {"functionCall": encode_call(part)}
            if part.signature is not None:
                signature = signature_out(part.signature, part.signature_origin, for_client=for_client)
                if signature is not None:
                    writer.flush()
                    call["thoughtSignature"] = signature
            writer.add(call, carries=True)
        else:
            encoded = _data_part(part, names or {})
            if encoded is None or (encoded == {"text": ""} and writer.pending is None):
                continue
            writer.add(encoded, carries=not isinstance(part, UnknownPart))
    writer.flush()
    return writer.out
