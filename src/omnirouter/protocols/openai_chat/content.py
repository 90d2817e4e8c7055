"""Message content of OpenAI Chat ↔ IR parts: content parts, tool calls, reasoning.

Fields OpenAI lacks are carried in the de-facto conventions of
OpenAI-compatible servers, so that they survive a round trip through an
OpenAI client:

* a tool call's ``signature`` (Gemini ``thoughtSignature``) →
  ``tool_calls[].extra_content.google.thought_signature``, as Gemini's own
  OpenAI-compatible endpoint does;
* reasoning text → ``reasoning_content`` (DeepSeek); ``reasoning`` (vLLM) is
  read too.  When any reasoning part has a signature or redacted data, all of
  them also go to ``thinking_blocks`` (LiteLLM's
  ``[{"type": "thinking", "thinking", "signature"} | {"type":
  "redacted_thinking", "data"}]``), which decoding prefers.  Several unsigned
  reasoning parts are joined into one.

Signatures are valid only with the provider that made them (``origin``, see
:mod:`omnirouter.protocols.carry`): answers to clients carry foreign ones
wrapped, requests to upstreams send only ``openai_chat``-origin ones and drop
foreign reasoning entirely.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omnirouter.ir import (
    AudioPart,
    FilePart,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    UnknownPart,
)
from omnirouter.protocols.carry import unwrap, wrap
from omnirouter.protocols.common import data_uri, new_id, split_data_uri
from omnirouter.protocols.image_urls import image_from_url
from omnirouter.protocols.limits import json_text
from omnirouter.protocols.openai_chat._shared import PROTOCOL, invalid


def is_own(origin: str | None) -> bool:
    """Whether a signature of ``origin`` belongs to OpenAI-compatible upstreams."""
    return origin is None or origin == PROTOCOL


def carried(value: str, origin: str | None) -> str:
    """A signature as a client carries it: own-origin as it is, foreign ones wrapped."""
    return value if is_own(origin) else wrap(origin or PROTOCOL, value)


def signature_of(call: dict[str, Any]) -> tuple[str | None, str | None]:
    """A tool call's (signature, origin) from ``extra_content.google.thought_signature``."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    if not isinstance(signature, str):
        return None, None
    origin, value = unwrap(signature, PROTOCOL)
    return value, origin


def _str_field(obj: dict[str, Any], key: str, param: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if isinstance(value, str):
        return value
    raise invalid(f"'{param}.{key}' must be a string", f"{param}.{key}")


def decode_part(part: Any, param: str) -> Part:
    """One content part; unknown part types become :class:`UnknownPart`."""
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise invalid(f"'{param}' must be an object with a string 'type'", param)
    kind = part["type"]
    if kind == "text":
        return TextPart(text=_str_field(part, "text", param, required=True) or "")
    if kind == "refusal":
        return TextPart(text=_str_field(part, "refusal", param, required=True) or "")
    if kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, str):
            image = {"url": image}
        if not isinstance(image, dict):
            raise invalid(f"'{param}.image_url' must be an object with a 'url'", f"{param}.image_url")
        url = _str_field(image, "url", f"{param}.image_url", required=True) or ""
        detail = _str_field(image, "detail", f"{param}.image_url")
        return image_from_url(url, f"{param}.image_url.url", detail)
    if kind == "input_audio":
        audio = part.get("input_audio")
        if not isinstance(audio, dict):
            raise invalid(f"'{param}.input_audio' must be an object", f"{param}.input_audio")
        sub = f"{param}.input_audio"
        return AudioPart(
            data=_str_field(audio, "data", sub, required=True) or "",
            format=_str_field(audio, "format", sub, required=True) or "",
        )
    if kind == "file":
        file = part.get("file")
        if not isinstance(file, dict):
            raise invalid(f"'{param}.file' must be an object", f"{param}.file")
        sub = f"{param}.file"
        data = _str_field(file, "file_data", sub)
        media_type = None
        split = split_data_uri(data) if data is not None else None
        if split is not None:
            data, media_type = split
        return FilePart(
            data=data,
            media_type=media_type,
            file_id=_str_field(file, "file_id", sub),
            filename=_str_field(file, "filename", sub),
        )
    return UnknownPart(protocol=PROTOCOL, data=part)


def decode_content(content: Any, param: str) -> list[Part]:
    """``content`` as a string, a list of parts, or null."""
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(text=content)] if content else []
    if isinstance(content, list):
        return [decode_part(part, f"{param}[{i}]") for i, part in enumerate(content)]
    raise invalid(f"'{param}' must be a string or an array of content parts", param)


def encode_part(part: Part) -> dict[str, Any] | None:
    """One IR part as an OpenAI content part; ``None`` when OpenAI has no place for it."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        if part.url is None and part.data is None:
            return None
        image: dict[str, Any] = {
            "url": part.url if part.url is not None else data_uri(part.data or "", part.media_type)
        }
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, AudioPart):
        return {"type": "input_audio", "input_audio": {"data": part.data, "format": part.format}}
    if isinstance(part, FilePart):
        file: dict[str, Any] = {}
        if part.data is not None:
            file["file_data"] = data_uri(part.data, part.media_type) if part.media_type else part.data
        if part.file_id is not None:
            file["file_id"] = part.file_id
        if part.filename is not None:
            file["filename"] = part.filename
        return {"type": "file", "file": file} if "file_data" in file or "file_id" in file else None
    if isinstance(part, UnknownPart) and part.protocol == PROTOCOL and isinstance(part.data, dict):
        return part.data
    return None


def encode_content(parts: Sequence[Part]) -> str | list[dict[str, Any]]:
    """Parts as ``content``: a plain string when they are one text, else a list of parts."""
    if not parts:
        return ""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    encoded = [e for e in (encode_part(p) for p in parts) if e is not None]
    return encoded or ""


def arguments_text(value: Any) -> str:
    """A call's ``arguments`` as raw text (objects from lax servers are serialised)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "{}"
    return json_text(value, "tool_calls.function.arguments")


def decode_tool_calls(value: Any, param: str, *, generate_ids: bool = False) -> list[ToolCallPart]:
    """An assistant message's ``tool_calls``; arguments are kept as raw text.

    With ``generate_ids`` (upstream answers) a missing id is made up instead of rejected.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"'{param}' must be an array", param)
    calls: list[ToolCallPart] = []
    for i, call in enumerate(value):
        sub = f"{param}[{i}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(function, dict):
            raise invalid(f"'{sub}' must be an object with a 'function'", sub)
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"'{sub}.function.name' must be a non-empty string", f"{sub}.function.name")
        call_id = call.get("id")
        if generate_ids and not (isinstance(call_id, str) and call_id):
            call_id = new_id("call_")
        if not isinstance(call_id, str):
            raise invalid(f"'{sub}.id' must be a string", f"{sub}.id")
        signature, origin = signature_of(call)
        calls.append(
            ToolCallPart(
                id=call_id,
                name=name,
                arguments=arguments_text(function.get("arguments")),
                signature=signature,
                signature_origin=origin,
            )
        )
    return calls


def signature_field(signature: str) -> dict[str, Any]:
    """The ``extra_content`` value carrying a tool-call signature."""
    return {"google": {"thought_signature": signature}}


def encode_tool_call(part: ToolCallPart, *, for_client: bool) -> dict[str, Any]:
    """One IR tool call as an OpenAI ``tool_calls`` entry (for a client, or for an upstream)."""
    call: dict[str, Any] = {
        "id": part.id,
        "type": "function",
        "function": {"name": part.name, "arguments": part.arguments},
    }
    if part.signature is not None:
        if for_client:
            call["extra_content"] = signature_field(carried(part.signature, part.signature_origin))
        elif is_own(part.signature_origin):
            call["extra_content"] = signature_field(part.signature)
    return call


def decode_thinking_blocks(blocks: Any) -> list[ReasoningPart] | None:
    """LiteLLM-style ``thinking_blocks``; ``None`` when absent or not understood."""
    if not isinstance(blocks, list) or not blocks:
        return None
    parts: list[ReasoningPart] = []
    for block in blocks:
        if not isinstance(block, dict):
            return None
        text = block.get("thinking")
        signature = block.get("signature")
        redacted = block.get("data") if block.get("type") == "redacted_thinking" else None
        origin = PROTOCOL
        if isinstance(signature, str):
            origin, signature = unwrap(signature, PROTOCOL)
        if isinstance(redacted, str):
            origin, redacted = unwrap(redacted, PROTOCOL)
        parts.append(
            ReasoningPart(
                text=text if isinstance(text, str) else "",
                signature=signature if isinstance(signature, str) else None,
                redacted=redacted if isinstance(redacted, str) else None,
                origin=origin,
            )
        )
    return parts


def decode_reasoning(message: dict[str, Any]) -> list[ReasoningPart]:
    """Reasoning of an assistant message: ``thinking_blocks``, else ``reasoning_content`` / ``reasoning``."""
    parts = decode_thinking_blocks(message.get("thinking_blocks"))
    if parts is not None:
        return parts
    for key in ("reasoning_content", "reasoning"):
        text = message.get(key)
        if isinstance(text, str) and text:
            return [ReasoningPart(text=text, origin=PROTOCOL)]
    return []


def thinking_block(part: ReasoningPart) -> dict[str, Any]:
    """One reasoning part as a ``thinking_blocks`` entry (foreign signatures wrapped)."""
    if part.redacted is not None:
        block: dict[str, Any] = {"type": "redacted_thinking", "data": carried(part.redacted, part.origin)}
        if part.text:
            block["thinking"] = part.text
        if part.signature is not None:
            block["signature"] = carried(part.signature, part.origin)
        return block
    block = {"type": "thinking", "thinking": part.text}
    if part.signature is not None:
        block["signature"] = carried(part.signature, part.origin)
    return block


def encode_reasoning(parts: list[ReasoningPart], message: dict[str, Any], *, for_client: bool) -> None:
    """Write reasoning parts into an OpenAI message (or delta) dict.

    Towards an upstream, reasoning of another origin is dropped: its signatures
    would be rejected and its text is not the upstream's own thinking.
    """
    if not for_client:
        parts = [p for p in parts if is_own(p.origin)]
    text = "".join(p.text for p in parts)
    if text:
        message["reasoning_content"] = text
    if any(p.signature is not None or p.redacted is not None for p in parts):
        message["thinking_blocks"] = [thinking_block(p) for p in parts]
