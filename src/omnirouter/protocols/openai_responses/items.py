"""Responses items and content parts ↔ IR parts, shared by requests, responses and streams.

Reasoning and call signatures (see ``docs/protocols/openai_responses.md``):

* a :class:`ReasoningPart` becomes a ``reasoning`` item: ``summary`` holds its
  text as one ``summary_text`` part, ``encrypted_content`` its signature.  Our own
  origin (``openai_responses``) goes as-is; any other origin is wrapped with
  :func:`carry.wrap` (an unknown origin as ``""``, so a text-only part from
  another provider is still marked foreign and never replayed to OpenAI);
  redacted data as ``wrap(origin + "-redacted", data)``;
* a :class:`ToolCallPart` signature (Gemini ``thoughtSignature``) rides in an
  extra ``reasoning`` item right before the ``function_call``, with
  ``encrypted_content = wrap(origin + "-call", '["<call_id>", "<signature>"]')``
  and an empty summary; decoding puts it back on the call with that ``call_id``;
* a reasoning item id is kept only for our own origin, and ids the gateway made
  up (``rs_omr…``) are dropped again on decode.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import AudioPart, FilePart, ImagePart, Part, ReasoningPart, TextPart, ToolCallPart, UnknownPart
from omnirouter.protocols.carry import unwrap, wrap
from omnirouter.protocols.image_urls import image_from_url
from omnirouter.protocols.openai_responses._shared import (
    GENERATED_REASONING_PREFIX,
    PROTOCOL,
    arguments_text,
    data_uri,
    flat_tool_name,
    invalid,
    new_id,
    split_data_uri,
    text_of,
)

_REDACTED = "-redacted"
_CALL = "-call"


class CallSignature:
    """A tool-call signature carried in a reasoning item, waiting for its call."""

    __slots__ = ("call_id", "origin", "signature")

    def __init__(self, call_id: str, signature: str, origin: str | None) -> None:
        self.call_id = call_id
        self.signature = signature
        self.origin = origin


def reasoning_id(part_id: str | None = None) -> str:
    """``part_id`` when given, else a made-up reasoning item id."""
    return part_id or new_id(GENERATED_REASONING_PREFIX)


def client_encrypted(signature: str | None, redacted: str | None, origin: str | None) -> str | None:
    """The ``encrypted_content`` a client sees for a reasoning block (see the module docstring)."""
    if redacted is not None:
        return wrap(f"{origin or ''}{_REDACTED}", redacted)
    if origin == PROTOCOL:
        return signature
    return wrap(origin or "", signature or "")


def summary_of(text: str) -> list[dict[str, Any]]:
    """A reasoning ``summary`` holding ``text`` (empty when there is no text)."""
    return [{"type": "summary_text", "text": text}] if text else []


def reasoning_item(part: ReasoningPart) -> dict[str, Any]:
    """A reasoning output item for a client."""
    own = part.origin == PROTOCOL
    item: dict[str, Any] = {
        "id": reasoning_id(part.id if own else None),
        "type": "reasoning",
        "summary": summary_of(part.text),
    }
    encrypted = client_encrypted(part.signature, part.redacted, part.origin)
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def call_signature_item(call_id: str, signature: str, origin: str | None) -> dict[str, Any]:
    """The reasoning item that carries a tool call's signature to a client."""
    value = orjson.dumps([call_id, signature]).decode()
    return {
        "id": reasoning_id(),
        "type": "reasoning",
        "summary": [],
        "encrypted_content": wrap(f"{origin or ''}{_CALL}", value),
    }


def _joined_texts(value: Any) -> str | None:
    if not isinstance(value, list):
        return None
    texts = [text_of(p.get("text")) for p in value if isinstance(p, dict)]
    return "\n\n".join(t for t in texts if t) if texts else None


def _call_signature(origin: str, value: str) -> CallSignature | None:
    try:
        pair = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair):
        return CallSignature(pair[0], pair[1], origin[: -len(_CALL)] or None)
    return None


def decode_reasoning_item(item: dict[str, Any]) -> ReasoningPart | CallSignature:
    """A reasoning item: summary texts joined by a blank line (else its ``content`` texts)."""
    text = _joined_texts(item.get("summary")) or _joined_texts(item.get("content")) or ""
    raw_id = item.get("id")
    real_id = isinstance(raw_id, str) and raw_id and not raw_id.startswith(GENERATED_REASONING_PREFIX)
    item_id = raw_id if real_id else None
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str):
        return ReasoningPart(text=text, origin=PROTOCOL if item_id else None, id=item_id)
    origin, value = unwrap(encrypted, PROTOCOL)
    if origin.endswith(_CALL):
        carried = _call_signature(origin, value)
        if carried is not None:
            return carried
    if origin.endswith(_REDACTED):
        return ReasoningPart(text=text, redacted=value, origin=origin[: -len(_REDACTED)] or None)
    if origin == PROTOCOL:
        return ReasoningPart(text=text, signature=value, origin=PROTOCOL, id=item_id)
    return ReasoningPart(text=text, signature=value or None, origin=origin or None)


def function_call_item(part: ToolCallPart, namespaces: dict[str, tuple[str, str]], item_id: str) -> dict[str, Any]:
    """A ``function_call`` output item; a flattened namespace tool name is split back."""
    item: dict[str, Any] = {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": part.id,
        "name": part.name,
        "arguments": part.arguments or "{}",
    }
    split = namespaces.get(part.name)
    if split is not None:
        item["namespace"], item["name"] = split
    return item


def decode_function_call(item: dict[str, Any], param: str) -> ToolCallPart:
    """A ``function_call`` item; ``namespace`` + ``name`` become the flat name."""
    call_id, name, namespace = item.get("call_id"), item.get("name"), item.get("namespace")
    if not isinstance(call_id, str) or not call_id:
        raise invalid(f"'{param}.call_id' must be a non-empty string", f"{param}.call_id")
    if not isinstance(name, str) or not name:
        raise invalid(f"'{param}.name' must be a non-empty string", f"{param}.name")
    return ToolCallPart(
        id=call_id,
        name=flat_tool_name(namespace if isinstance(namespace, str) else None, name),
        arguments=arguments_text(item.get("arguments")) or "{}",
    )


def output_text(text: str) -> dict[str, Any]:
    """An ``output_text`` content part."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _str(part: dict[str, Any], key: str, param: str, *, required: bool = False) -> str | None:
    value = part.get(key)
    if value is None and not required:
        return None
    if isinstance(value, str):
        return value
    raise invalid(f"'{param}.{key}' must be a string", f"{param}.{key}")


def decode_part(part: Any, param: str) -> Part:
    """One content part of an input message; unknown types become :class:`UnknownPart`."""
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise invalid(f"'{param}' must be an object with a string 'type'", param)
    kind = part["type"]
    if kind in ("input_text", "output_text"):
        return TextPart(text=_str(part, "text", param, required=True) or "")
    if kind == "refusal":
        return TextPart(text=_str(part, "refusal", param, required=True) or "")
    if kind == "input_image":
        url = _str(part, "image_url", param)
        detail = _str(part, "detail", param)
        if url is None:
            return UnknownPart(protocol=PROTOCOL, data=part)
        detail = None if detail == "auto" else detail
        return image_from_url(url, f"{param}.image_url", detail)
    if kind == "input_file":
        data, media_type = _str(part, "file_data", param), None
        split = split_data_uri(data) if data is not None else None
        if split is not None:
            data, media_type = split
        return FilePart(
            data=data,
            url=_str(part, "file_url", param),
            file_id=_str(part, "file_id", param),
            filename=_str(part, "filename", param),
            media_type=media_type,
        )
    if kind == "input_audio":
        audio = part.get("input_audio")
        if not isinstance(audio, dict):
            raise invalid(f"'{param}.input_audio' must be an object", f"{param}.input_audio")
        sub = f"{param}.input_audio"
        return AudioPart(data=_str(audio, "data", sub, required=True) or "", format=_str(audio, "format", sub) or "")
    return UnknownPart(protocol=PROTOCOL, data=part)


def decode_content(content: Any, param: str) -> list[Part]:
    """A message's ``content``: a string or a list of parts."""
    if isinstance(content, str):
        return [TextPart(text=content)] if content else []
    if isinstance(content, list):
        return [decode_part(part, f"{param}[{i}]") for i, part in enumerate(content)]
    raise invalid(f"'{param}' must be a string or an array of content parts", param)


def is_content_part(data: Any) -> bool:
    """Whether an :class:`UnknownPart`'s data is a content part (else it is a whole item)."""
    kind = data.get("type") if isinstance(data, dict) else None
    return isinstance(kind, str) and (kind.startswith(("input_", "output_")) or kind == "refusal")


def encode_input_part(part: Part) -> dict[str, Any] | None:
    """An IR part as an input content part; ``None`` when the Responses API has no place for it.

    Audio is read (``input_audio``) but not written: message content has no audio part in the spec.
    """
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        if part.url is None and part.data is None:
            return None
        url = part.url if part.url is not None else data_uri(part.data or "", part.media_type)
        return {"type": "input_image", "image_url": url, "detail": part.detail or "auto"}
    if isinstance(part, FilePart):
        file: dict[str, Any] = {"type": "input_file"}
        if part.data is not None:
            file["file_data"] = data_uri(part.data, part.media_type) if part.media_type else part.data
        if part.url is not None:
            file["file_url"] = part.url
        if part.file_id is not None:
            file["file_id"] = part.file_id
        if part.filename is not None:
            file["filename"] = part.filename
        return file if len(file) > 1 else None
    if isinstance(part, UnknownPart) and part.protocol == PROTOCOL and is_content_part(part.data):
        data: dict[str, Any] = part.data
        return data
    return None
