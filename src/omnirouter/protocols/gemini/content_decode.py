"""Gemini ``Part`` objects → IR parts (client requests and upstream answers).

* ``thought: true`` text parts become :class:`ReasoningPart`; consecutive ones
  (streamed chunks replayed by the client) are joined into one block, which a
  part carrying a ``thoughtSignature`` closes.
* A ``thoughtSignature`` on a ``functionCall`` part is the call's signature; on
  any other part it becomes a text-less :class:`ReasoningPart` placed before the
  part (that is where the encoder puts it back).  From clients the signature is
  unwrapped (``carry``) so that another provider's signature regains its origin.
* ``inlineData`` → image / audio / file part by MIME type, its data in the
  standard base64 alphabet (the google-genai SDK sends URL-safe base64, which
  other providers reject); ``fileData`` → image
  or file part by URL.  ``executableCode``, ``codeExecutionResult`` and unknown
  parts are kept verbatim as :class:`UnknownPart`.
* ``functionResponse.response``: ``{"result"|"output": str}`` → that text,
  ``{"error": str}`` → that text with ``is_error``, anything else → its JSON
  text; images in ``functionResponse.parts`` are kept.
"""

from __future__ import annotations

import json
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
from omnirouter.protocols.gemini._shared import (
    PROTOCOL,
    audio_format,
    child_str,
    get,
    invalid,
    media_type_of_url,
    positional_call_id,
    random_call_id,
    signature_in,
    standard_b64,
)
from omnirouter.protocols.image_urls import gemini_file_uri
from omnirouter.protocols.limits import nests_deeper, too_deep_error

_SIGNATURE_ONLY = frozenset({"thoughtSignature", "thought_signature", "thought"})
_Signature = tuple[str, str, bool]


def json_text(value: Any) -> str:
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        pass
    try:
        return json.dumps(value, separators=(",", ":"), default=str)
    except RecursionError:
        raise too_deep_error("functionResponse.response") from None


class PartContext:
    """State while decoding one conversation (or answer): call ids and their names."""

    __slots__ = ("from_client", "names", "pending")

    def __init__(self, *, from_client: bool) -> None:
        self.from_client = from_client
        self.pending: list[tuple[str, str]] = []
        self.names: dict[str, str] = {}

    def signature(self, value: str) -> _Signature:
        """``(origin, value, redacted)``: clients may carry wrapped foreign signatures."""
        return signature_in(value) if self.from_client else (PROTOCOL, value, False)

    def new_id(self, param: str) -> str:
        """An id for a call or response that has none (stable per position for clients)."""
        return positional_call_id(param) if self.from_client else random_call_id()

    def record_call(self, call_id: str, name: str) -> None:
        self.names[call_id] = name
        self.pending.append((call_id, name))

    def answer_id(self, given: str | None, name: str | None, param: str) -> str:
        """The call a response answers: its own id, else the first open call of that name."""
        for i, (call_id, call_name) in enumerate(self.pending):
            if call_id == given or (given is None and (name is None or call_name == name)):
                del self.pending[i]
                return call_id
        return given or self.new_id(param)


def _req_str(obj: dict[str, Any], key: str, param: str) -> str:
    value = child_str(obj, key, param)
    if not value:
        raise invalid(f"'{param}.{key}' must be a non-empty string", f"{param}.{key}")
    return value


def _object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"'{param}' must be an object", param)
    return value


def decode_inline(blob: Any, param: str) -> ImagePart | AudioPart | FilePart:
    """``inlineData {mimeType, data}`` by MIME type."""
    blob = _object(blob, param)
    mime = _req_str(blob, "mimeType", param)
    data = standard_b64(child_str(blob, "data", param) or "")
    if mime.startswith("image/"):
        return ImagePart(data=data, media_type=mime)
    if mime.startswith("audio/"):
        return AudioPart(data=data, format=audio_format(mime))
    return FilePart(data=data, media_type=mime)


def decode_file(ref: Any, param: str) -> ImagePart | FilePart:
    """``fileData {mimeType?, fileUri}``: an image when the type (or the URL) says so."""
    ref = _object(ref, param)
    uri = gemini_file_uri(_req_str(ref, "fileUri", param), f"{param}.fileUri")
    mime = child_str(ref, "mimeType", param)
    if (mime or media_type_of_url(uri) or "").startswith("image/"):
        return ImagePart(url=uri, media_type=mime)
    return FilePart(url=uri, media_type=mime)


def result_content(response: dict[str, Any]) -> tuple[list[TextPart], bool]:
    """A ``functionResponse.response`` object as tool-result text and its error flag."""
    if len(response) == 1:
        ((key, value),) = response.items()
        if key in ("result", "output", "error") and isinstance(value, str):
            return ([TextPart(text=value)] if value else []), key == "error"
    if not response:
        return [], False
    return [TextPart(text=json_text(response))], False


def _decode_call(raw: Any, param: str, signature: _Signature | None, ctx: PartContext) -> ToolCallPart:
    call = _object(raw, param)
    name = _req_str(call, "name", param)
    args = call.get("args")
    if args is not None and not isinstance(args, dict):
        raise invalid(f"'{param}.args' must be an object", f"{param}.args")
    if args is not None and nests_deeper(args):
        raise too_deep_error(f"{param}.args")
    call_id = child_str(call, "id", param) or ctx.new_id(param)
    ctx.record_call(call_id, name)
    return ToolCallPart(
        id=call_id,
        name=name,
        arguments=json_text(args) if args is not None else "{}",
        signature=signature[1] if signature else None,
        signature_origin=signature[0] if signature else None,
    )


def _decode_result(raw: Any, param: str, ctx: PartContext) -> ToolResultPart:
    result = _object(raw, param)
    name = child_str(result, "name", param)
    response = result.get("response")
    if response is None:
        response = {}
    if not isinstance(response, dict):
        raise invalid(f"'{param}.response' must be an object", f"{param}.response")
    call_id = ctx.answer_id(child_str(result, "id", param) or None, name, param)
    texts, is_error = result_content(response)
    content: list[TextPart | ImagePart] = list(texts)
    extra_parts = result.get("parts")
    if isinstance(extra_parts, list):
        for i, sub in enumerate(extra_parts):
            sub_param = f"{param}.parts[{i}]"
            sub = _object(sub, sub_param)
            media: ImagePart | AudioPart | FilePart | None = None
            if get(sub, "inlineData") is not None:
                media = decode_inline(get(sub, "inlineData"), f"{sub_param}.inlineData")
            elif get(sub, "fileData") is not None:
                media = decode_file(get(sub, "fileData"), f"{sub_param}.fileData")
            if isinstance(media, ImagePart):
                content.append(media)
    return ToolResultPart(call_id=call_id, content=content, name=name or ctx.names.get(call_id), is_error=is_error)


def _signature_parts(signature: _Signature | None) -> list[Part]:
    if signature is None:
        return []
    origin, value, redacted = signature
    if redacted:
        return [ReasoningPart(redacted=value, origin=origin)]
    return [ReasoningPart(signature=value, origin=origin)]


def _decode_data(raw: dict[str, Any], param: str, signature: _Signature | None, ctx: PartContext) -> list[Part]:
    text = raw.get("text")
    if isinstance(text, str):
        return [*_signature_parts(signature), *([TextPart(text=text)] if text else [])]
    if get(raw, "functionCall") is not None:
        return [_decode_call(get(raw, "functionCall"), f"{param}.functionCall", signature, ctx)]
    data: Part | None = None
    if get(raw, "functionResponse") is not None:
        data = _decode_result(get(raw, "functionResponse"), f"{param}.functionResponse", ctx)
    elif get(raw, "inlineData") is not None:
        data = decode_inline(get(raw, "inlineData"), f"{param}.inlineData")
    elif get(raw, "fileData") is not None:
        data = decode_file(get(raw, "fileData"), f"{param}.fileData")
    elif set(raw) <= _SIGNATURE_ONLY:
        return _signature_parts(signature)
    else:
        return [UnknownPart(protocol=PROTOCOL, data=raw)]
    return [*_signature_parts(signature), data]


def decode_parts(items: list[tuple[Any, str]], ctx: PartContext) -> list[Part]:
    """``(part, param path)`` pairs of one turn (consecutive contents of one role) as IR parts."""
    out: list[Part] = []
    block: list[str] | None = None

    def close() -> None:
        nonlocal block
        if block is not None and "".join(block):
            out.append(ReasoningPart(text="".join(block), origin=PROTOCOL))
        block = None

    for raw, param in items:
        part = _object(raw, param)
        signature_raw = get(part, "thoughtSignature")
        if signature_raw is not None and not isinstance(signature_raw, str):
            raise invalid(f"'{param}.thoughtSignature' must be a base64 string", f"{param}.thoughtSignature")
        signature = ctx.signature(signature_raw) if signature_raw else None
        thought = part.get("thought")
        if thought is not None and not isinstance(thought, bool):
            raise invalid(f"'{param}.thought' must be a boolean", f"{param}.thought")
        text = part.get("text")
        if text is not None and not isinstance(text, str):
            raise invalid(f"'{param}.text' must be a string", f"{param}.text")
        if thought and (isinstance(text, str) or set(part) <= _SIGNATURE_ONLY):
            if signature is not None and signature[2]:
                close()
                out.append(ReasoningPart(text=text or "", redacted=signature[1], origin=signature[0]))
                continue
            block = [*(block or []), text or ""]
            if signature is not None:
                out.append(ReasoningPart(text="".join(block), signature=signature[1], origin=signature[0]))
                block = None
            continue
        close()
        out.extend(_decode_data(part, param, signature, ctx))
    close()
    return out
