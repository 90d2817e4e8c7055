"""OpenAI Responses: ``POST /v1/responses``, plain or streamed with named events."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream.core import Exchange, as_int, begin, json_response, sse
from omnirouter.mock_upstream.openai_chat import OpenAIWire, content_text
from omnirouter.mock_upstream.plan import Plan, build_plan
from omnirouter.mock_upstream.tokens import count_input, split_arguments, split_text


class ResponsesWire(OpenAIWire):
    """OpenAI conventions, with the Responses API's ``error`` stream event."""

    def stream_error(self, status: int, message: str, error_type: str | None, seq: int) -> bytes:
        """``event: error`` with ``{type, code, message, param, sequence_number}``."""
        code = error_type or ("server_error" if status >= 500 else "invalid_request_error")
        event = {"type": "error", "code": code, "message": message, "param": None, "sequence_number": seq}
        return sse(event, "error")


WIRE = ResponsesWire()
_ASSISTANT_ITEMS = frozenset({"function_call", "reasoning", "custom_tool_call", "web_search_call"})


def turn_text(input_value: Any) -> str:
    """Text of the trailing user turn: user messages and tool outputs after the last model item."""
    if isinstance(input_value, str):
        return input_value
    if not isinstance(input_value, list):
        return ""
    texts: list[str] = []
    for item in reversed(input_value):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        role = item.get("role")
        if role == "assistant" or kind in _ASSISTANT_ITEMS:
            break
        if role in ("user", None) and kind in (None, "message"):
            text = content_text(item.get("content"))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            text = content_text(item.get("output"))
        else:
            continue
        if text:
            texts.append(text)
    return "\n".join(reversed(texts))


def validate_input(body: dict[str, Any]) -> str | None:
    """The message OpenAI would reject this input with, if any."""
    input_value = body.get("input")
    if input_value is None:
        if any(body.get(k) for k in ("previous_response_id", "conversation", "prompt")):
            return None
        return "Missing required parameter: 'input'."
    if not isinstance(input_value, (str, list)):
        return "Invalid type for 'input': expected one of a string or array of input items."
    if isinstance(input_value, list) and body.get("previous_response_id") is None:
        calls = {i.get("call_id") for i in input_value if isinstance(i, dict) and i.get("type") == "function_call"}
        for item in input_value:
            is_output = isinstance(item, dict) and item.get("type") == "function_call_output"
            if is_output and item.get("call_id") not in calls:
                return f"No tool call found for function call output with call_id {item.get('call_id')}."
    return None


def _status(plan: Plan) -> tuple[str, dict[str, str] | None]:
    if plan.finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if plan.finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _usage(plan: Plan) -> dict[str, Any]:
    u = plan.usage
    return {
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cached, "cache_write_tokens": u.cache_write},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.total,
    }


class _Builder:
    """Builds the response object and its items for one plan."""

    def __init__(self, plan: Plan, body: dict[str, Any], created: int) -> None:
        self.plan = plan
        self.body = body
        self.created = created
        self.rid = f"resp_mock{plan.serial:016d}"
        include = body.get("include")
        self.encrypted = isinstance(include, list) and "reasoning.encrypted_content" in include

    def response(self, status: str, output: list[dict[str, Any]], final: bool) -> dict[str, Any]:
        body = self.body
        raw_reasoning = body.get("reasoning")
        reasoning: dict[str, Any] = raw_reasoning if isinstance(raw_reasoning, dict) else {}
        incomplete = _status(self.plan)[1] if final else None
        response = {
            "id": self.rid,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "completed_at": self.created if status == "completed" else None,
            "error": None,
            "incomplete_details": incomplete,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.plan.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "metadata": body.get("metadata") or {},
        }
        if final and not self.plan.directive.no_usage:
            response["usage"] = _usage(self.plan)
        return response

    def reasoning_item(self, done: bool) -> dict[str, Any]:
        plan = self.plan
        item: dict[str, Any] = {
            "id": f"rs_mock{plan.serial:016d}",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": plan.reasoning}] if done else [],
        }
        if self.encrypted:
            item["encrypted_content"] = plan.reasoning_signature
        return item

    def has_message(self) -> bool:
        plan = self.plan
        return bool(plan.text) or plan.refusal is not None or not (plan.tool_calls or plan.blocked)

    def message_part(self, done: bool) -> dict[str, Any]:
        plan = self.plan
        if plan.refusal is not None:
            return {"type": "refusal", "refusal": plan.refusal if done else ""}
        return {"type": "output_text", "text": plan.text if done else "", "annotations": [], "logprobs": []}

    def message_item(self, done: bool) -> dict[str, Any]:
        status = ("incomplete" if self.plan.finish == "length" else "completed") if done else "in_progress"
        return {
            "id": f"msg_mock{self.plan.serial:016d}",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [self.message_part(True)] if done else [],
        }

    def call_item(self, index: int, done: bool) -> dict[str, Any]:
        call = self.plan.tool_calls[index]
        return {
            "id": f"fc_mock{self.plan.serial:08d}x{index:03d}",
            "type": "function_call",
            "status": "completed" if done else "in_progress",
            "arguments": call.arguments_json if done else "",
            "call_id": call.id,
            "name": call.name,
        }

    def output(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if self.plan.reasoning:
            items.append(self.reasoning_item(True))
        if self.has_message():
            items.append(self.message_item(True))
        items.extend(self.call_item(i, True) for i in range(len(self.plan.tool_calls)))
        return items

    def final(self) -> dict[str, Any]:
        return self.response(_status(self.plan)[0], self.output(), True)

    def events(self) -> list[bytes]:
        """The named SSE events of a streamed response, in the documented order."""
        plan = self.plan
        frames: list[bytes] = []

        def ev(kind: str, **fields: Any) -> None:
            frames.append(sse({"type": kind, **fields, "sequence_number": len(frames)}, kind))

        def deltas(kind: str, common: dict[str, Any], pieces: list[str], extra: bytes = b"") -> None:
            # Delta events differ only in delta and sequence number: splice them into fixed bytes.
            head = b'event: %b\ndata: %b,"delta":' % (kind.encode(), orjson.dumps({"type": kind, **common})[:-1])
            for piece in pieces:
                frames.append(head + orjson.dumps(piece) + extra + b',"sequence_number":%d}\n\n' % len(frames))

        ev("response.created", response=self.response("in_progress", [], False))
        ev("response.in_progress", response=self.response("in_progress", [], False))
        index = 0
        chunks = plan.directive.chunks
        if plan.reasoning:
            rid = f"rs_mock{plan.serial:016d}"
            ev("response.output_item.added", output_index=index, item=self.reasoning_item(False))
            part = {"type": "summary_text", "text": ""}
            common = {"item_id": rid, "output_index": index, "summary_index": 0}
            ev("response.reasoning_summary_part.added", **common, part=part)
            deltas("response.reasoning_summary_text.delta", common, plan.reasoning_pieces)
            ev("response.reasoning_summary_text.done", **common, text=plan.reasoning)
            ev("response.reasoning_summary_part.done", **common, part={**part, "text": plan.reasoning})
            ev("response.output_item.done", output_index=index, item=self.reasoning_item(True))
            index += 1
        if self.has_message():
            mid = f"msg_mock{plan.serial:016d}"
            ev("response.output_item.added", output_index=index, item=self.message_item(False))
            common = {"item_id": mid, "output_index": index, "content_index": 0}
            ev("response.content_part.added", **common, part=self.message_part(False))
            if plan.refusal is not None:
                deltas("response.refusal.delta", common, split_text(plan.refusal, chunks))
                ev("response.refusal.done", **common, refusal=plan.refusal)
            else:
                deltas("response.output_text.delta", common, plan.pieces, b',"logprobs":[]')
                ev("response.output_text.done", **common, text=plan.text, logprobs=[])
            ev("response.content_part.done", **common, part=self.message_part(True))
            ev("response.output_item.done", output_index=index, item=self.message_item(True))
            index += 1
        for i, call in enumerate(plan.tool_calls):
            item = self.call_item(i, False)
            ev("response.output_item.added", output_index=index, item=item)
            common = {"item_id": item["id"], "output_index": index}
            deltas("response.function_call_arguments.delta", common, split_arguments(call.arguments_json))
            ev(
                "response.function_call_arguments.done",
                **common,
                name=call.name,
                arguments=call.arguments_json,
            )
            ev("response.output_item.done", output_index=index, item=self.call_item(i, True))
            index += 1
        final = self.final()
        ev("response.completed" if final["status"] == "completed" else "response.incomplete", response=final)
        return frames


async def responses(request: web.Request) -> web.StreamResponse:
    """``POST /v1/responses``."""
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    body = ex.body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return WIRE.error(400, "Missing required parameter: 'model'.")
    problem = validate_input(body)
    if problem:
        return WIRE.error(400, problem)
    stream = body.get("stream") is True
    resolved = ex.resolve(turn_text(body.get("input")))
    if isinstance(resolved, web.Response):
        return resolved
    directive, user_text = resolved
    early = await ex.preamble(directive, stream)
    if early is not None:
        return early
    serial = ex.state.next_serial()
    reasoning = body.get("reasoning")
    plan = build_plan(
        directive,
        user_text,
        model=model,
        serial=serial,
        input_tokens=count_input([body.get("instructions"), body.get("input")]),
        max_tokens=as_int(body.get("max_output_tokens")),
        thinking=isinstance(reasoning, dict) and reasoning.get("summary") is not None,
    )
    for call in plan.tool_calls:
        call.id = f"call_mock{serial:08d}x{call.index:03d}"
    builder = _Builder(plan, body, int(time.time()))
    if not stream:
        return json_response(builder.final(), headers=WIRE.headers(serial))
    return await ex.stream(builder.events(), directive, serial=serial)
