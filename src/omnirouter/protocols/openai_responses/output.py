"""The Response object for clients: envelope, output items, status; and the ``output`` of upstream answers.

Decisions:

* The response id is the IR id when it already starts with ``resp_`` (a
  Responses upstream's), else ``resp_`` + a fresh hex id.  Message ids are
  ``msg_…``, call item ids ``fc_…``, made-up reasoning ids ``rs_omr…``.
* The envelope echoes what the client asked (``max_output_tokens``,
  ``parallel_tool_calls``, ``tool_choice``, ``text``, ``temperature``,
  ``top_p``; ``metadata`` and ``previous_response_id`` for Responses clients)
  but not ``instructions`` (null) nor ``tools`` (``[]``), which can be large.
* Stop reasons: LENGTH → ``incomplete`` (``max_output_tokens``),
  CONTENT_FILTER → ``incomplete`` (``content_filter``), anything else →
  ``completed``.  A REFUSAL choice's text goes into ``refusal`` parts.  A
  generated image (base64) is an ``image_generation_call`` item (``result``);
  images known only by URL, audio and files have no output item and are dropped.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import (
    ChatRequest,
    Choice,
    ImagePart,
    Part,
    ReasoningPart,
    StopReason,
    TextPart,
    ToolCallPart,
    UnknownPart,
)
from omnirouter.protocols.openai_responses._shared import PROTOCOL, new_id
from omnirouter.protocols.openai_responses.items import (
    CallSignature,
    call_signature_item,
    decode_function_call,
    decode_reasoning_item,
    function_call_item,
    is_content_part,
    output_text,
    reasoning_item,
)
from omnirouter.protocols.openai_responses.options import encode_format, encode_tool_choice, namespace_map


def response_id_for(ir_id: str | None) -> str:
    """The client-facing response id for an IR answer id."""
    return ir_id if ir_id and ir_id.startswith("resp_") else new_id("resp_")


def client_namespaces(request: ChatRequest | None) -> dict[str, tuple[str, str]]:
    """Flat tool name → (namespace, name) for a Responses client's namespace tools."""
    if request is None or request.source_protocol != PROTOCOL:
        return {}
    return namespace_map(request.extra.get("tools"))


def envelope(response_id: str, created_at: int, model: str, request: ChatRequest | None) -> dict[str, Any]:
    """A Response object with status ``in_progress`` and no output yet."""
    same = request is not None and request.source_protocol == PROTOCOL
    body: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": request.max_tokens if request is not None else None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": None,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "metadata": {},
    }
    if request is None:
        return body
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.tool_choice is not None:
        body["tool_choice"] = encode_tool_choice(request.tool_choice)
    if request.response_format is not None:
        body["text"] = {"format": encode_format(request.response_format)}
    body["temperature"], body["top_p"] = request.temperature, request.top_p
    if same:
        previous = request.extra.get("previous_response_id")
        body["previous_response_id"] = previous if isinstance(previous, str) else None
        body["metadata"] = request.metadata or {}
    return body


def status_for(stop: StopReason | None) -> tuple[str, dict[str, str] | None]:
    """The Response ``status`` and ``incomplete_details`` for a stop reason."""
    if stop is StopReason.LENGTH:
        return "incomplete", {"reason": "max_output_tokens"}
    if stop is StopReason.CONTENT_FILTER:
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    """An assistant ``message`` output item."""
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": parts}


def image_item(item_id: str, data: str | None) -> dict[str, Any]:
    """An ``image_generation_call`` output item holding a generated image's base64 (``None`` while in progress)."""
    status = "in_progress" if data is None else "completed"
    return {"id": item_id, "type": "image_generation_call", "status": status, "result": data}


def output_items(choice: Choice, namespaces: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """A choice's parts as output items, in order (consecutive texts share one message)."""
    items: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    refusal = choice.stop_reason is StopReason.REFUSAL
    status = "incomplete" if choice.stop_reason is StopReason.LENGTH else "completed"

    def flush() -> None:
        if parts:
            items.append(message_item(new_id("msg_"), list(parts), status))
            parts.clear()

    for part in choice.content:
        if isinstance(part, TextPart):
            parts.append({"type": "refusal", "refusal": part.text} if refusal else output_text(part.text))
            continue
        if isinstance(part, UnknownPart) and part.protocol == PROTOCOL and is_content_part(part.data):
            if part.data.get("type") in ("output_text", "refusal"):
                parts.append(part.data)
            continue
        if isinstance(part, ReasoningPart):
            flush()
            items.append(reasoning_item(part))
        elif isinstance(part, ToolCallPart):
            flush()
            if part.signature is not None:
                items.append(call_signature_item(part.id, part.signature, part.signature_origin))
            items.append(function_call_item(part, namespaces, new_id("fc_")))
        elif isinstance(part, ImagePart) and part.data is not None:
            flush()
            items.append(image_item(new_id("ig_"), part.data))
        elif isinstance(part, UnknownPart) and part.protocol == PROTOCOL and isinstance(part.data, dict):
            flush()
            items.append(part.data)
    flush()
    return items


class DecodedOutput:
    """The parts of an upstream's ``output`` and what the stop reason depends on."""

    __slots__ = ("calls", "parts", "refused")

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.calls: list[ToolCallPart] = []
        self.refused = False


def decode_output(output: list[Any]) -> DecodedOutput:
    """Output items → IR parts; raises ``GatewayError(INVALID_REQUEST)`` on malformed items."""
    decoded = DecodedOutput()
    carried: dict[str, CallSignature] = {}
    for i, item in enumerate(output):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    decoded.parts.append(TextPart(text=part["text"]))
                elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                    decoded.refused = True
                    decoded.parts.append(TextPart(text=part["refusal"]))
                else:
                    decoded.parts.append(UnknownPart(protocol=PROTOCOL, data=part))
        elif kind == "function_call":
            call = decode_function_call(item, f"output[{i}]")
            decoded.calls.append(call)
            decoded.parts.append(call)
        elif kind == "reasoning":
            reasoning = decode_reasoning_item(item)
            if isinstance(reasoning, CallSignature):
                carried[reasoning.call_id] = reasoning
            else:
                decoded.parts.append(reasoning)
        else:
            decoded.parts.append(UnknownPart(protocol=PROTOCOL, data=item))
    for call in decoded.calls:
        found = carried.get(call.id)
        if found is not None and call.signature is None:
            call.signature, call.signature_origin = found.signature, found.origin
    return decoded
