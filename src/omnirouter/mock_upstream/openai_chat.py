"""OpenAI wire conventions and ``POST /v1/chat/completions``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream.core import Exchange, Wire, as_int, begin, json_response, retry_after_value, sse
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.plan import Plan, Usage, build_plan
from omnirouter.mock_upstream.tokens import count_input, split_arguments, split_text

FINGERPRINT = "fp_mock"

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
}
_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded", 404: "model_not_found"}

_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username and "
    "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
)


def _mask(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "***"


class OpenAIWire(Wire):
    """OpenAI: ``Authorization: Bearer``, ``{"error": {message, type, param, code}}``."""

    name = "openai"

    def check_auth(self, request: web.Request) -> web.Response | None:
        """401 when the Bearer key is missing or starts with ``bad``/``invalid``."""
        auth = request.headers.get("Authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not key:
            return self.error(401, _MISSING_KEY)
        if key.startswith(("bad", "invalid")):
            return self.error(
                401,
                f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
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
        """``{"error": {"message", "type", "param", "code"}}`` with all four keys."""
        etype = error_type or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        if code is None and error_type is None:
            code = _CODES.get(status)
        elif code is None and error_type == "insufficient_quota":
            code = "insufficient_quota"
        hdrs = dict(headers or {})
        hdrs["x-request-id"] = "req_mock_error"
        if retry_after is not None:
            hdrs["retry-after"] = retry_after_value(retry_after)
            hdrs["retry-after-ms"] = str(int(retry_after * 1000))
        body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
        return json_response(body, status=status, headers=hdrs)

    def stream_error(self, status: int, message: str, error_type: str | None, seq: int) -> bytes:
        """``data: {"error": {...}}`` (the stream then ends without ``[DONE]``)."""
        etype = error_type or ("server_error" if status >= 500 else _TYPES.get(status, "invalid_request_error"))
        return sse({"error": {"message": message, "type": etype, "param": None, "code": None}})

    def headers(self, serial: int) -> dict[str, str]:
        """``x-request-id``, ``openai-processing-ms`` and rate-limit headers, as OpenAI sends them."""
        return {
            "x-request-id": f"req_mock{serial:012d}",
            "openai-processing-ms": "1",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
        }


WIRE = OpenAIWire()


def content_text(content: Any) -> str:
    """Text of an OpenAI content value: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str) and part.get("type") in (None, "text", "input_text", "output_text"):
                    texts.append(text)
            elif isinstance(part, str):
                texts.append(part)
        return "\n".join(texts)
    return ""


def turn_text(messages: list[Any]) -> str:
    """Text of the trailing user turn: user messages and tool results after the last assistant message."""
    texts: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "assistant":
            break
        if role in ("user", "tool", "function"):
            text = content_text(message.get("content"))
            if text:
                texts.append(text)
    return "\n".join(reversed(texts))


def validate_messages(messages: list[Any]) -> str | None:
    """The message OpenAI would reject this conversation with, if any."""
    pending: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"Invalid type for 'messages[{i}]': expected an object, but got another type instead."
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool", "function"):
            return (
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'function'."
            )
        if pending and role != "tool":
            return _unanswered(pending)
        if role == "assistant":
            calls = message.get("tool_calls") or []
            for j, call in enumerate(calls if isinstance(calls, list) else []):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
                    return (
                        f"Invalid type for 'messages[{i}].tool_calls[{j}].function.arguments': "
                        "expected a string, but got an object instead."
                    )
                pending.append(str(call.get("id")))
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                    "message with 'tool_calls'."
                )
            pending.remove(call_id)
    return _unanswered(pending) if pending else None


def _unanswered(pending: list[str]) -> str:
    return (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}"
    )


def usage_dict(u: Usage) -> dict[str, Any]:
    """Chat Completions ``usage`` (prompt includes cached, completion includes reasoning)."""
    return {
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.total,
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "refusal": "stop"}


def _finish(plan: Plan) -> str:
    return _FINISH.get(plan.finish, "content_filter")


def _content(plan: Plan) -> str | None:
    if plan.text:
        return plan.text
    return None if plan.tool_calls or plan.refusal is not None or plan.blocked is not None else ""


def completion(plan: Plan, created: int) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": _content(plan),
        "refusal": plan.refusal,
        "annotations": [],
    }
    if plan.reasoning:
        message["reasoning_content"] = plan.reasoning
    if plan.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
            for c in plan.tool_calls
        ]
    body: dict[str, Any] = {
        "id": f"chatcmpl-mock{plan.serial:016d}",
        "object": "chat.completion",
        "created": created,
        "model": plan.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(plan)}],
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    if not plan.directive.no_usage:
        body["usage"] = usage_dict(plan.usage)
    return body


def chunks(plan: Plan, created: int, include_usage: bool) -> list[bytes]:
    """The ``chat.completion.chunk`` frames (without the final ``[DONE]``)."""
    base: dict[str, Any] = {
        "id": f"chatcmpl-mock{plan.serial:016d}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    frames: list[bytes] = []
    # Chunks differ only in their delta: splice the serialized delta between fixed bytes.
    head = b"data: " + orjson.dumps(base)[:-1] + b',"choices":[{"index":0,"delta":'
    tail = b',"logprobs":null,"finish_reason":null}]' + (b',"usage":null' if include_usage else b"") + b"}\n\n"
    dumps = orjson.dumps

    def add(delta: dict[str, Any], finish: str | None = None) -> None:
        if finish is None:
            frames.append(head + dumps(delta) + tail)
            return
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            chunk["usage"] = None
        frames.append(sse(chunk))

    first = _content(plan)
    add({"role": "assistant", "content": "" if first is not None else None, "refusal": None})
    for piece in plan.reasoning_pieces:
        add({"reasoning_content": piece})
    if plan.refusal:
        for piece in split_text(plan.refusal, plan.directive.chunks):
            add({"refusal": piece})
    for piece in plan.pieces:
        add({"content": piece})
    for call in plan.tool_calls:
        first_fragment = {"index": call.index, "id": call.id, "type": "function"}
        add({"tool_calls": [{**first_fragment, "function": {"name": call.name, "arguments": ""}}]})
        for fragment in split_arguments(call.arguments_json):
            add({"tool_calls": [{"index": call.index, "function": {"arguments": fragment}}]})
    add({}, _finish(plan))
    if include_usage:
        frames.append(sse({**base, "choices": [], "usage": usage_dict(plan.usage)}))
    return frames


async def chat_plan(
    ex: Exchange,
    wire: Wire,
    model: str,
    messages: list[Any],
    *,
    thinking: bool = False,
    answer_early: Callable[[Directive], web.StreamResponse | None] | None = None,
) -> Plan | web.StreamResponse:
    """The reply planned for a chat request (the OpenAI mock's and every OpenAI-compatible vendor's):
    messages checked, the directive resolved (``answer_early`` may answer it in a vendor's own way) and its
    preamble run (delay, fail, garbage), tool calls given ids; else the answer that ends the exchange there."""
    problem = validate_messages(messages)
    if problem:
        return wire.error(400, problem)
    resolved = ex.resolve(turn_text(messages))
    if isinstance(resolved, web.Response):
        return resolved
    directive, user_text = resolved
    if answer_early is not None and (answered := answer_early(directive)) is not None:
        return answered
    early = await ex.preamble(directive, ex.body.get("stream") is True)
    if early is not None:
        return early
    serial = ex.state.next_serial()
    limit = as_int(ex.body.get("max_completion_tokens"))
    plan = build_plan(
        directive,
        user_text,
        model=model,
        serial=serial,
        input_tokens=count_input(messages),
        max_tokens=limit if limit is not None else as_int(ex.body.get("max_tokens")),
        thinking=thinking,
    )
    for call in plan.tool_calls:
        call.id = f"call_mock{serial:08d}x{call.index:03d}"
    return plan


def asks_usage(body: dict[str, Any]) -> bool:
    """Whether a streamed request asks for usage (``stream_options.include_usage``)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions``, plain or streamed."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return WIRE.error(400, "you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return WIRE.error(
            400,
            "Missing required parameter: 'messages'." if messages is None else "[] is too short - 'messages'",
        )
    plan = await chat_plan(ex, WIRE, model, messages)
    if not isinstance(plan, Plan):
        return plan
    created = int(time.time())
    if body.get("stream") is not True:
        return json_response(completion(plan, created), headers=WIRE.headers(plan.serial))
    frames = chunks(plan, created, asks_usage(body) and not plan.directive.no_usage)
    return await ex.stream(frames, plan.directive, serial=plan.serial, suffix=b"data: [DONE]\n\n")
