"""Chat Completions response bodies ↔ IR :class:`ChatResponse`.

Decisions on what does not map one to one:

* ``message.refusal`` becomes a :class:`TextPart` and the choice's stop reason
  :attr:`StopReason.REFUSAL` (``content_filter`` stays CONTENT_FILTER).  Encoding
  a REFUSAL choice puts all its text in ``refusal`` and ``content: null``.
* ``finish_reason`` "stop" or an unknown value after tool calls decodes as
  TOOL_CALLS, and so does "length" when every call's arguments are complete JSON
  (llama.cpp).  A choice with tool calls always encodes as "tool_calls" unless
  it stopped for LENGTH or CONTENT_FILTER.  STOP_SEQUENCE, PAUSE, ERROR and a
  missing reason encode as "stop".
* Several text parts are joined (``content`` is one string); images go to
  ``message.images`` (see :mod:`.media`); audio and files in answers have no
  place and are dropped; so are ``logprobs`` (encoded as null) and ``annotations``.
* Other top-level fields (``system_fingerprint``, ``service_tier``, llama.cpp's
  ``timings``) go to ``extra`` and come back only for OpenAI-sourced answers.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from omnirouter.ir import (
    ChatResponse,
    Choice,
    GatewayError,
    ImagePart,
    Part,
    ReasoningPart,
    StopReason,
    TextPart,
    ToolCallPart,
)
from omnirouter.protocols.common import bad_upstream, is_complete_json, new_id
from omnirouter.protocols.openai_chat._shared import PROTOCOL
from omnirouter.protocols.openai_chat.content import (
    arguments_text,
    decode_content,
    decode_reasoning,
    decode_tool_calls,
    encode_reasoning,
    encode_tool_call,
)
from omnirouter.protocols.openai_chat.errors import decode_error
from omnirouter.protocols.openai_chat.media import decode_images, encode_images
from omnirouter.protocols.openai_chat.usage import usage_from_openai, usage_to_openai

_TOP_LEVEL = frozenset({"id", "object", "created", "model", "choices", "usage"})

_FINISH_BY_STOP: dict[StopReason, str] = {
    StopReason.LENGTH: "length",
    StopReason.CONTENT_FILTER: "content_filter",
    StopReason.TOOL_CALLS: "tool_calls",
}


def stop_reason_from(finish: Any, calls: list[str] | None, refused: bool) -> StopReason | None:
    """An OpenAI ``finish_reason`` as a stop reason; ``calls`` are the choice's argument texts."""
    if finish is None:
        return None
    if finish in ("tool_calls", "function_call"):
        return StopReason.TOOL_CALLS
    if finish == "content_filter":
        return StopReason.CONTENT_FILTER
    if finish == "length":
        if calls and all(is_complete_json(args) for args in calls):
            return StopReason.TOOL_CALLS
        return StopReason.LENGTH
    if calls:
        return StopReason.TOOL_CALLS
    return StopReason.REFUSAL if refused else StopReason.END


def finish_reason_for(stop: StopReason | None, has_calls: bool) -> str:
    """The ``finish_reason`` to tell an OpenAI client."""
    if stop in (StopReason.LENGTH, StopReason.CONTENT_FILTER):
        return _FINISH_BY_STOP[stop]
    return "tool_calls" if has_calls else "stop"


def _decode_choice(raw: Any, position: int) -> Choice:
    if not isinstance(raw, dict):
        raise bad_upstream(f"choices[{position}] is not an object")
    index = raw.get("index")
    message = raw.get("message")
    if not isinstance(message, dict):
        message = {}
    parts: list[Part] = []
    parts.extend(decode_reasoning(message))
    parts.extend(decode_content(message.get("content"), f"choices[{position}].message.content"))
    parts.extend(decode_images(message.get("images")))
    refusal = message.get("refusal")
    refused = isinstance(refusal, str)
    if refused and refusal:
        parts.append(TextPart(text=refusal))
    calls = decode_tool_calls(message.get("tool_calls"), f"choices[{position}].message.tool_calls", generate_ids=True)
    legacy = message.get("function_call")
    if not calls and isinstance(legacy, dict) and isinstance(legacy.get("name"), str):
        calls = [
            ToolCallPart(id=new_id("call_"), name=legacy["name"], arguments=arguments_text(legacy.get("arguments")))
        ]
    parts.extend(calls)
    return Choice(
        index=index if isinstance(index, int) and not isinstance(index, bool) else position,
        content=parts,
        stop_reason=stop_reason_from(raw.get("finish_reason"), [c.arguments for c in calls], refused),
    )


def decode_response(body: dict[str, Any]) -> ChatResponse:
    """An upstream's non-streamed answer; a malformed one raises ``GatewayError(UPSTREAM)``."""
    if not isinstance(body, dict):
        raise bad_upstream("upstream response is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list):
        if body.get("error"):
            raise decode_error(502, orjson.dumps(body))
        raise bad_upstream("upstream response has no 'choices' array")
    try:
        decoded = [_decode_choice(raw, i) for i, raw in enumerate(choices)]
    except GatewayError as error:
        raise bad_upstream(f"malformed upstream response: {error.message}") from None
    response_id, model, created, usage = (
        body.get("id"),
        body.get("model"),
        body.get("created"),
        body.get("usage"),
    )
    return ChatResponse(
        id=response_id if isinstance(response_id, str) and response_id else new_id("chatcmpl-"),
        model=model if isinstance(model, str) else "",
        created=created if isinstance(created, int) and not isinstance(created, bool) else int(time.time()),
        choices=decoded,
        usage=usage_from_openai(usage) if isinstance(usage, dict) else None,
        extra={k: v for k, v in body.items() if k not in _TOP_LEVEL},
        source_protocol=PROTOCOL,
    )


def _encode_choice(choice: Choice) -> dict[str, Any]:
    texts = [p.text for p in choice.content if isinstance(p, TextPart)]
    calls = [encode_tool_call(p, for_client=True) for p in choice.content if isinstance(p, ToolCallPart)]
    text = "".join(texts) if texts else None
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if choice.stop_reason is StopReason.REFUSAL:
        message["content"], message["refusal"] = None, text or ""
    encode_reasoning([p for p in choice.content if isinstance(p, ReasoningPart)], message, for_client=True)
    if calls:
        message["tool_calls"] = calls
    images = encode_images([p for p in choice.content if isinstance(p, ImagePart)])
    if images:
        message["images"] = images
    return {
        "index": choice.index,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason_for(choice.stop_reason, bool(calls)),
    }


def encode_response(response: ChatResponse) -> dict[str, Any]:
    """A ``chat.completion`` body for a client."""
    body: dict[str, Any] = dict(response.extra) if response.source_protocol == PROTOCOL else {}
    body.update(
        id=response.id,
        object="chat.completion",
        created=response.created or int(time.time()),
        model=response.model,
        choices=[_encode_choice(c) for c in response.choices],
    )
    if response.usage is not None:
        body["usage"] = usage_to_openai(response.usage)
    return body
