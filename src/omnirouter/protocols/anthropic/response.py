"""Messages response bodies ↔ IR :class:`ChatResponse`.

* ``stop_reason`` end_turn / stop_sequence / max_tokens / tool_use / refusal /
  pause_turn ↔ END / STOP_SEQUENCE / LENGTH / TOOL_CALLS / REFUSAL / PAUSE;
  ``model_context_window_exceeded`` decodes as LENGTH and CONTENT_FILTER encodes as
  ``refusal``; a ``refusal`` before any text or call decodes as CONTENT_FILTER.  An
  answer with tool calls is TOOL_CALLS / ``tool_use`` unless it stopped for LENGTH
  or a refusal.
* ``stop_sequence``, ``stop_details``, ``container`` … go to ``extra``; unmapped
  usage fields (``service_tier``, ``cache_creation`` …) and block fields
  (``citations`` …) to the side table: all come back for Anthropic-sourced answers only.
* Encoding uses only the first choice (Anthropic has one); ids that are not
  ``msg_…`` get the prefix; tool results, images and audio in an answer are dropped.
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
    StopReason,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from omnirouter.protocols.anthropic._shared import PROTOCOL, message_id
from omnirouter.protocols.anthropic.content import Block, ContentDecoder, ContentEncoder
from omnirouter.protocols.anthropic.errors import decode_error
from omnirouter.protocols.anthropic.side import EMPTY, SIDE_KEY, SideReader, SideTable
from omnirouter.protocols.anthropic.usage import usage_from_anthropic, usage_to_anthropic
from omnirouter.protocols.common import bad_upstream, new_id

_TOP_LEVEL = frozenset({"id", "type", "role", "model", "content", "stop_reason", "usage", SIDE_KEY})
_USAGE_FIELDS = frozenset(usage_to_anthropic(Usage())) | {"cache_creation"}  # decoded into the IR

_STOP_FROM: dict[str, StopReason] = {
    "end_turn": StopReason.END,
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "max_tokens": StopReason.LENGTH,
    "model_context_window_exceeded": StopReason.LENGTH,
    "tool_use": StopReason.TOOL_CALLS,
    "refusal": StopReason.REFUSAL,
    "pause_turn": StopReason.PAUSE,
}

_STOP_FOR: dict[StopReason, str] = {
    StopReason.STOP_SEQUENCE: "stop_sequence",
    StopReason.PAUSE: "pause_turn",
    StopReason.TOOL_CALLS: "tool_use",
}


def stop_reason_from(value: Any, has_calls: bool, has_output: bool = True) -> StopReason | None:
    """An Anthropic ``stop_reason`` as a stop reason (tool calls turn a plain end into TOOL_CALLS).

    A ``refusal`` before any answer (no text, no call) is CONTENT_FILTER: it is how Anthropic
    reports a blocked prompt (it has no content-filter stop), and other clients must see their
    filter stop rather than an empty, normal-looking answer.
    """
    if value is None:
        return None
    reason = _STOP_FROM.get(value, StopReason.END) if isinstance(value, str) else StopReason.END
    if has_calls and reason in (StopReason.END, StopReason.STOP_SEQUENCE):
        return StopReason.TOOL_CALLS
    if reason is StopReason.REFUSAL and not (has_output or has_calls):
        return StopReason.CONTENT_FILTER
    return reason


def stop_reason_for(stop: StopReason | None, has_calls: bool) -> str:
    """The ``stop_reason`` to tell an Anthropic client."""
    if stop is StopReason.LENGTH:
        return "max_tokens"
    if stop in (StopReason.REFUSAL, StopReason.CONTENT_FILTER):
        return "refusal"
    if has_calls:
        return "tool_use"
    return _STOP_FOR.get(stop, "end_turn") if stop is not None else "end_turn"


def decode_response(body: dict[str, Any]) -> ChatResponse:
    """An upstream's non-streamed message; a malformed one raises ``GatewayError(UPSTREAM)``."""
    if not isinstance(body, dict):
        raise bad_upstream("upstream response is not a JSON object")
    content = body.get("content")
    if not isinstance(content, list):
        if body.get("type") == "error" or body.get("error"):
            raise decode_error(502, orjson.dumps(body))
        raise bad_upstream("upstream response has no 'content' array")
    side = SideTable()
    try:
        parts = ContentDecoder(side).decode(content, 0, "content")
    except GatewayError as error:
        raise bad_upstream(f"malformed upstream response: {error.message}") from None
    usage = body.get("usage")
    if isinstance(usage, dict):
        side.set("usage", {k: v for k, v in usage.items() if k not in _USAGE_FIELDS})
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    has_text = any(isinstance(p, TextPart) and p.text for p in parts)
    response_id, model = body.get("id"), body.get("model")
    response = ChatResponse(
        id=response_id if isinstance(response_id, str) and response_id else new_id("msg_"),
        model=model if isinstance(model, str) else "",
        created=int(time.time()),
        choices=[
            Choice(index=0, content=parts, stop_reason=stop_reason_from(body.get("stop_reason"), has_calls, has_text))
        ],
        usage=usage_from_anthropic(usage) if isinstance(usage, dict) else None,
        extra={k: v for k, v in body.items() if k not in _TOP_LEVEL},
        source_protocol=PROTOCOL,
    )
    side.store(response.extra)
    return response


def encode_response(response: ChatResponse) -> dict[str, Any]:
    """A ``message`` body for a client."""
    same = response.source_protocol == PROTOCOL
    extra: dict[str, Any] = dict(response.extra) if same else {}
    side = SideReader(extra.pop(SIDE_KEY, None)) if same else EMPTY
    encoder = ContentEncoder(side, upstream=False)
    choice = response.choices[0] if response.choices else Choice()
    content: list[Block] = []
    for index, part in enumerate(choice.content):
        if not isinstance(part, ToolResultPart | ImagePart):  # an answer has no image blocks
            content.extend(encoder.part(part, 0, index))
    has_calls = any(b["type"] == "tool_use" for b in content)
    usage = usage_to_anthropic(response.usage or Usage())
    kept = side.get("usage")
    if isinstance(kept, dict):
        usage.update(kept)
    body: dict[str, Any] = {"stop_sequence": None, **extra}
    body.update(
        id=message_id(response.id),
        type="message",
        role="assistant",
        model=response.model,
        content=content,
        stop_reason=stop_reason_for(choice.stop_reason, has_calls),
        usage=usage,
    )
    return body
