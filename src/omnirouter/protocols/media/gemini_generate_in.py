"""What the Gemini-side media clients share: a google-genai ``generateContent`` (or
``streamGenerateContent``) body asking for IMAGE or AUDIO output, served by an image or speech upstream
that does not speak Gemini (``gemini_images_in.py``, ``gemini_speech_in.py``; docs/media.md).

``media_output`` tells from the body whether it asks for media only: ``["AUDIO"]`` is speech,
``["IMAGE"]`` or ``["TEXT", "IMAGE"]`` images.  The answer is one ``GenerateContentResponse``; a streamed
call gets it as its one SSE event (``alt=sse``) or as the one element of a JSON array.  Field names are
read in both of the spellings the Gemini API accepts (``responseModalities`` / ``response_modalities``).
"""

from __future__ import annotations

import enum
from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage

__all__ = [
    "GeminiFraming",
    "MediaOutput",
    "client_field",
    "field",
    "invalid",
    "media_output",
    "usage_metadata",
    "user_parts",
]


class MediaOutput(enum.Enum):
    """The media a generateContent body asks for instead of text."""

    IMAGE = "IMAGE"
    AUDIO = "AUDIO"


class GeminiFraming(enum.Enum):
    """How the answer is written: a plain response, one SSE event, or a one-element JSON array."""

    PLAIN = "plain"
    SSE = "sse"
    ARRAY = "array"

    def frame(self, answer: dict[str, Any]) -> tuple[bytes, bytes]:
        """``(body, content type)`` of ``answer`` in this framing."""
        data = orjson.dumps(answer)
        if self is GeminiFraming.SSE:
            return b"data: " + data + b"\r\n\r\n", b"text/event-stream"
        if self is GeminiFraming.ARRAY:
            return b"[" + data + b"]", b"application/json"
        return data, b"application/json"


def field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """``obj[camel]``, else ``obj[snake]`` (the Gemini API takes both spellings), else None."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def media_output(body: dict[str, Any]) -> MediaOutput | None:
    """IMAGE or AUDIO when the body's ``responseModalities`` ask for media only (TEXT beside IMAGE
    allowed), else None: a few dict look-ups, cheap enough for every Gemini chat request."""
    config = field(body, "generationConfig", "generation_config")
    if not isinstance(config, dict):
        return None
    modalities = field(config, "responseModalities", "response_modalities")
    if not isinstance(modalities, list) or not modalities:
        return None
    names = {str(name).upper() for name in modalities}
    if names == {"AUDIO"}:
        return MediaOutput.AUDIO
    if "IMAGE" in names and names <= {"TEXT", "IMAGE"}:
        return MediaOutput.IMAGE
    return None


def invalid(message: str, param: str) -> GatewayError:
    """A 400 whose message names the field (Gemini's error shape has no field of its own)."""
    return GatewayError(ErrorKind.INVALID_REQUEST, f"{param}: {message}", param=param)


def client_field(error: GatewayError, fields: dict[str, str]) -> GatewayError:
    """``error`` naming the client's field when an upstream codec refused one of the neutral request's
    (its ``param`` is a key of ``fields``): the message says which field of the Gemini body it was."""
    param = error.param
    if param is None or param not in fields:
        return error
    message = f"{fields[param]}: {error.message}"
    return GatewayError(error.kind, message, status=error.status, code=error.code, param=fields[param])


def user_parts(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every part of the user turns as ``(its path, the part)``; a model turn is a 400 (these upstreams
    make media from one request, they do not continue a conversation)."""
    contents = body.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        raise invalid("at least one content with parts is required.", "contents")
    found: list[tuple[str, dict[str, Any]]] = []
    for index, content in enumerate(contents):
        if not isinstance(content, dict):
            raise invalid("must be an object with 'parts'.", f"contents[{index}]")
        role = content.get("role")
        if role not in (None, "user"):
            raise invalid(
                "only user turns can be sent to this model: it makes media from one request.",
                f"contents[{index}].role",
            )
        parts = content.get("parts")
        if not isinstance(parts, list):
            raise invalid("must be a list of parts.", f"contents[{index}].parts")
        for number, part in enumerate(parts):
            if not isinstance(part, dict):
                raise invalid("must be an object.", f"contents[{index}].parts[{number}]")
            found.append((f"contents[{index}].parts[{number}]", part))
    return found


def usage_metadata(usage: Usage, modality: str) -> dict[str, Any] | None:
    """``usageMetadata`` when the upstream counted tokens (none when the gateway estimated or the vendor
    bills by other units): output tokens under ``modality`` (IMAGE, AUDIO)."""
    if usage.estimated or not (usage.input_tokens or usage.output_tokens):
        return None
    media = usage.image_output_tokens if modality == "IMAGE" else usage.audio_output_tokens
    meta: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": usage.output_tokens,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    prompt_details = [{"modality": "TEXT", "tokenCount": usage.input_tokens - usage.image_input_tokens}]
    if usage.image_input_tokens:
        prompt_details.append({"modality": "IMAGE", "tokenCount": usage.image_input_tokens})
    meta["promptTokensDetails"] = prompt_details
    details = []
    if media:
        details.append({"modality": modality, "tokenCount": media})
    if usage.output_tokens > media:
        details.append({"modality": "TEXT", "tokenCount": usage.output_tokens - media})
    if details:
        meta["candidatesTokensDetails"] = details
    return meta
