"""Anthropic Messages: ``POST /v1/messages`` (plain and streamed) and ``/v1/messages/count_tokens``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream.core import (
    Exchange,
    Wire,
    as_int,
    begin,
    json_response,
    retry_after_value,
    sse,
)
from omnirouter.mock_upstream.plan import Plan, build_plan
from omnirouter.mock_upstream.tokens import count_input, split_arguments, split_text

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _type(status: int) -> str:
    return _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


class AnthropicWire(Wire):
    """Anthropic: ``x-api-key`` (or Bearer), ``{"type": "error", "error": {...}, "request_id"}``."""

    name = "anthropic"

    def check_auth(self, request: web.Request) -> web.Response | None:
        """401 authentication_error when the key is missing or starts with ``bad``/``invalid``."""
        key = request.headers.get("x-api-key", "").strip()
        if not key:
            auth = request.headers.get("Authorization", "")
            key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not key:
            return self.error(401, "x-api-key header is required")
        if key.startswith(("bad", "invalid")):
            return self.error(401, "invalid x-api-key")
        return None

    def error(
        self,
        status: int,
        message: str,
        error_type: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> web.Response:
        """The Anthropic error envelope with a ``request_id``."""
        hdrs = dict(headers or {})
        hdrs["request-id"] = "req_mock_error"
        if retry_after is not None:
            hdrs["retry-after"] = retry_after_value(retry_after)
        body = {
            "type": "error",
            "error": {"type": error_type or _type(status), "message": message},
            "request_id": "req_mock_error",
        }
        return json_response(body, status=status, headers=hdrs)

    def stream_error(self, status: int, message: str, error_type: str | None, seq: int) -> bytes:
        """``event: error`` with the error envelope."""
        body = {"type": "error", "error": {"type": error_type or _type(status), "message": message}}
        return sse(body, "error")

    def garbage_stream(self) -> bytes:
        """A known event name whose data is not JSON."""
        return b'event: message_start\ndata: {"type": "message_start", this is not json\n\n'

    def headers(self, serial: int) -> dict[str, str]:
        """``request-id``."""
        return {"request-id": f"req_mock{serial:016d}"}


WIRE = AnthropicWire()


def _blocks_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif block.get("type") == "tool_result":
                text = _blocks_text(block.get("content"))
                if text:
                    texts.append(text)
    return "\n".join(texts)


def turn_text(messages: list[Any]) -> str:
    """Text of the trailing user turn (text blocks and tool results after the last assistant message)."""
    texts: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, dict):
            continue
        if message.get("role") == "assistant":
            break
        text = _blocks_text(message.get("content"))
        if text:
            texts.append(text)
    return "\n".join(reversed(texts))


def _ids(content: Any, kind: str, key: str) -> list[str]:
    if not isinstance(content, list):
        return []
    return [str(b.get(key)) for b in content if isinstance(b, dict) and b.get("type") == kind]


def validate(body: dict[str, Any], need_max_tokens: bool = True) -> str | None:
    """The message Anthropic would reject this request with, if any."""
    if not isinstance(body.get("model"), str) or not body.get("model"):
        return "model: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "messages: Field required"
    max_tokens = as_int(body.get("max_tokens"))
    if need_max_tokens and max_tokens is None:
        return "max_tokens: Field required"
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = as_int(thinking.get("budget_tokens"))
        if budget is None or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if need_max_tokens and max_tokens is not None and max_tokens <= budget:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
    last = len(messages) - 1
    previous_uses: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            role = message.get("role") if isinstance(message, dict) else None
            return f"messages.{i}.role: Input should be 'user' or 'assistant' (got {role!r})"
        content = message.get("content")
        if content in ("", []) and not (i == last and message["role"] == "assistant"):
            return (
                f"messages.{i}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "text" and not block.get("text"):
                    return "messages: text content blocks must be non-empty"
        results = _ids(content, "tool_result", "tool_use_id")
        missing = [u for u in previous_uses if u not in results]
        if missing:
            return (
                f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )
        for j, result in enumerate(results):
            if result not in previous_uses:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{result}. Each `tool_result` block must have a corresponding `tool_use` block in "
                    "the previous message."
                )
        previous_uses = _ids(content, "tool_use", "id") if message["role"] == "assistant" else []
    if previous_uses:
        return (
            f"messages.{last}: `tool_use` ids were found without `tool_result` blocks immediately after: "
            f"{', '.join(previous_uses)}. Each `tool_use` block must have a corresponding `tool_result` "
            "block in the next message."
        )
    return None


_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "refusal": "refusal",
    "content_filter": "refusal",
}
_REFUSAL_DETAILS = {"type": "refusal", "category": None, "explanation": None}


def _usage(plan: Plan, output: int) -> dict[str, Any]:
    u = plan.usage
    return {
        "input_tokens": max(0, u.input - u.cached - u.cache_write),
        "cache_creation_input_tokens": u.cache_write,
        "cache_read_input_tokens": u.cached,
        "cache_creation": {
            "ephemeral_5m_input_tokens": u.cache_write - u.cache_write_1h,
            "ephemeral_1h_input_tokens": u.cache_write_1h,
        },
        "output_tokens": output,
        "service_tier": "standard",
    }


def _message(plan: Plan, content: list[dict[str, Any]], final: bool) -> dict[str, Any]:
    stop = _STOP[plan.finish] if final else None
    return {
        "id": f"msg_mock{plan.serial:020d}",
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "stop_details": _REFUSAL_DETAILS if stop == "refusal" else None,
        "usage": _usage(plan, plan.usage.output if final else 1),
    }


def _visible_text(plan: Plan) -> str:
    return plan.refusal if plan.refusal is not None else plan.text


def message(plan: Plan) -> dict[str, Any]:
    """The non-streamed message object."""
    content: list[dict[str, Any]] = []
    if plan.reasoning:
        content.append({"type": "thinking", "thinking": plan.reasoning, "signature": plan.reasoning_signature})
    text = _visible_text(plan)
    if text:
        content.append({"type": "text", "text": text})
    content.extend({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in plan.tool_calls)
    return _message(plan, content, True)


def events(plan: Plan) -> list[bytes]:
    """The named SSE events of a streamed message."""
    frames = [sse({"type": "message_start", "message": _message(plan, [], False)}, "message_start")]
    index = 0
    ping = sse({"type": "ping"}, "ping")

    def start(block: dict[str, Any]) -> None:
        frames.append(
            sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")
        )
        if index == 0:
            frames.append(ping)

    def delta(payload: dict[str, Any]) -> None:
        frames.append(
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":%b}\n\n'
            % (index, orjson.dumps(payload))
        )

    def stop() -> None:
        frames.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))

    if plan.reasoning:
        start({"type": "thinking", "thinking": "", "signature": ""})
        for piece in plan.reasoning_pieces:
            delta({"type": "thinking_delta", "thinking": piece})
        delta({"type": "signature_delta", "signature": plan.reasoning_signature})
        stop()
        index += 1
    text = _visible_text(plan)
    if text:
        start({"type": "text", "text": ""})
        pieces = plan.pieces if plan.refusal is None else split_text(text, plan.directive.chunks)
        for piece in pieces:
            delta({"type": "text_delta", "text": piece})
        stop()
        index += 1
    for call in plan.tool_calls:
        start({"type": "tool_use", "id": call.id, "name": call.name, "input": {}})
        delta({"type": "input_json_delta", "partial_json": ""})
        for fragment in split_arguments(call.arguments_json):
            delta({"type": "input_json_delta", "partial_json": fragment})
        stop()
        index += 1
    if index == 0:
        frames.append(ping)
    stop_reason = _STOP[plan.finish]
    usage = _usage(plan, plan.usage.output)
    del usage["cache_creation"], usage["service_tier"]
    frames.append(
        sse(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "stop_details": _REFUSAL_DETAILS if stop_reason == "refusal" else None,
                },
                "usage": usage,
            },
            "message_delta",
        )
    )
    frames.append(sse({"type": "message_stop"}, "message_stop"))
    return frames


async def _begin(
    request: web.Request, wire: AnthropicWire = WIRE, need_version: bool = True
) -> Exchange | web.Response:
    ex = await begin(request, wire)
    if need_version and isinstance(ex, Exchange) and not request.headers.get("anthropic-version"):
        return wire.error(400, "anthropic-version: header is required")
    return ex


def _thinking(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


async def messages(request: web.Request) -> web.StreamResponse:
    """``POST /v1/messages``."""
    return await serve_messages(request, WIRE)


async def serve_messages(
    request: web.Request,
    wire: AnthropicWire,
    need_version: bool = True,
    check: Callable[[dict[str, Any]], str | None] | None = None,
    thinks_by_default: bool = False,
) -> web.StreamResponse:
    """``POST /v1/messages`` as ``wire`` checks keys (a vendor's Anthropic-compatible endpoint too);
    ``check``: a further rule of that vendor (the message of its 400, or ``None``); ``thinks_by_default``:
    a request without ``thinking`` thinks (DeepSeek, GLM)."""
    ex = await _begin(request, wire, need_version)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    problem = validate(body) or (check(body) if check is not None else None)
    if problem:
        return wire.error(400, problem)
    stream = body.get("stream") is True
    resolved = ex.resolve(turn_text(body["messages"]))
    if isinstance(resolved, web.Response):
        return resolved
    directive, user_text = resolved
    early = await ex.preamble(directive, stream)
    if early is not None:
        return early
    serial = ex.state.next_serial()
    plan = build_plan(
        directive,
        user_text,
        model=body["model"],
        serial=serial,
        input_tokens=count_input([body.get("system"), body["messages"]]),
        max_tokens=as_int(body.get("max_tokens")),
        thinking=_thinking(body) or (thinks_by_default and body.get("thinking") is None),
    )
    for call in plan.tool_calls:
        call.id = f"toolu_mock{serial:08d}x{call.index:03d}"
    if not stream:
        return json_response(message(plan), headers=wire.headers(serial))
    return await ex.stream(events(plan), directive, serial=serial)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": n}``."""
    ex = await _begin(request)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    problem = validate(body, need_max_tokens=False)
    if problem:
        return WIRE.error(400, problem)
    return json_response({"input_tokens": count_input([body.get("system"), body["messages"]])})
