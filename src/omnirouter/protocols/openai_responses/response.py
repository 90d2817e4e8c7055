"""Responses ``Response`` objects ↔ IR :class:`ChatResponse`.

* ``completed`` decodes as END, or TOOL_CALLS when there are function calls, or
  REFUSAL when a ``refusal`` part was given; ``incomplete`` as LENGTH
  (``max_output_tokens``; TOOL_CALLS when every call's arguments are complete
  JSON) or CONTENT_FILTER; ``cancelled`` as ERROR; a ``failed`` response raises
  ``GatewayError(UPSTREAM)`` with the upstream's message and code.
* Top-level fields other than the mapped ones go to ``extra`` and come back
  only for Responses-sourced answers (the echo of the upstream's settings).
* ``encode_response`` validates against the spec's ``Response`` and the SDK type;
  its ``id`` (``body["id"]``) is the id the gateway answers with.  Given the
  client's request it also splits flattened namespace tool names back.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from omnirouter.ir import ChatRequest, ChatResponse, Choice, ErrorKind, GatewayError, StopReason
from omnirouter.protocols.common import is_complete_json
from omnirouter.protocols.openai_chat.errors import decode_error
from omnirouter.protocols.openai_responses._shared import PROTOCOL, bad_upstream, new_id
from omnirouter.protocols.openai_responses.output import (
    client_namespaces,
    decode_output,
    envelope,
    output_items,
    response_id_for,
    status_for,
)
from omnirouter.protocols.openai_responses.usage import usage_from_responses, usage_to_responses

_TOP_LEVEL = frozenset(
    {"id", "object", "created_at", "status", "model", "output", "output_text", "usage", "error", "incomplete_details"}
)


def stop_reason_from(status: Any, reason: Any, call_args: list[str], refused: bool) -> StopReason | None:
    """A Response ``status`` (and ``incomplete_details.reason``) as a stop reason."""
    if status == "incomplete":
        if reason == "content_filter":
            return StopReason.CONTENT_FILTER
        if call_args and all(is_complete_json(a) for a in call_args):
            return StopReason.TOOL_CALLS
        return StopReason.LENGTH
    if status == "completed":
        if call_args:
            return StopReason.TOOL_CALLS
        return StopReason.REFUSAL if refused else StopReason.END
    if status in ("cancelled", "failed"):
        return StopReason.ERROR
    return None


def failure_of(body: dict[str, Any]) -> GatewayError:
    """The error of a ``failed`` response."""
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return GatewayError(
        ErrorKind.UPSTREAM,
        message if isinstance(message, str) and message else "upstream response failed",
        code=code if isinstance(code, str) else None,
    )


def decode_response(body: dict[str, Any]) -> ChatResponse:
    """An upstream's non-streamed answer; a malformed or failed one raises ``GatewayError(UPSTREAM)``."""
    if not isinstance(body, dict):
        raise bad_upstream("upstream response is not a JSON object")
    output = body.get("output")
    if body.get("status") == "failed":
        raise failure_of(body)
    if not isinstance(output, list):
        if body.get("error"):
            raise decode_error(502, orjson.dumps(body))
        raise bad_upstream("upstream response has no 'output' array")
    try:
        decoded = decode_output(output)
    except GatewayError as error:
        raise bad_upstream(f"malformed upstream response: {error.message}") from None
    details = body.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    stop = stop_reason_from(body.get("status"), reason, [c.arguments for c in decoded.calls], decoded.refused)
    response_id, model, created, usage = body.get("id"), body.get("model"), body.get("created_at"), body.get("usage")
    return ChatResponse(
        id=response_id if isinstance(response_id, str) and response_id else new_id("resp_"),
        model=model if isinstance(model, str) else "",
        created=int(created) if isinstance(created, int | float) and not isinstance(created, bool) else 0,
        choices=[Choice(index=0, content=decoded.parts, stop_reason=stop)],
        usage=usage_from_responses(usage) if isinstance(usage, dict) else None,
        extra={k: v for k, v in body.items() if k not in _TOP_LEVEL},
        source_protocol=PROTOCOL,
    )


def encode_response(response: ChatResponse, request: ChatRequest | None = None) -> dict[str, Any]:
    """A Response object for a client (the first choice; Responses has no others)."""
    choice = response.choices[0] if response.choices else Choice()
    created = response.created or int(time.time())
    body = envelope(response_id_for(response.id), created, response.model, request)
    if response.source_protocol == PROTOCOL:
        body.update((k, v) for k, v in response.extra.items() if k not in _TOP_LEVEL and k not in ("id", "model"))
    status, incomplete = status_for(choice.stop_reason)
    body["status"], body["incomplete_details"] = status, incomplete
    if status == "completed" and body.get("completed_at") is None:
        body["completed_at"] = int(time.time())
    body["output"] = output_items(choice, client_namespaces(request))
    body.pop("usage", None)
    if response.usage is not None:
        body["usage"] = usage_to_responses(response.usage)
    return body
