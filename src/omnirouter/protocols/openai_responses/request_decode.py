"""A client's Responses request body → IR :class:`ChatRequest`.

* ``instructions`` becomes a leading ``system`` message; ``input`` a string (one
  user message) or a list of items.  Item ``id`` and ``status`` fields are
  accepted and dropped (Codex sends an id on every item).
* Consecutive assistant-side items (assistant messages, ``reasoning``,
  ``function_call`` and other ``*_call`` items) are merged into one assistant
  message; each ``function_call_output`` becomes a ``tool`` message.
* ``item_reference`` and other items the IR has no type for become
  :class:`UnknownPart` (assistant-side ones inside the assistant message, the
  rest in a ``user`` message of their own): kept for Responses upstreams,
  dropped by other protocols.
* Top-level fields without a neutral meaning go to ``extra`` (``store``,
  ``include``, ``previous_response_id``, ``truncation``, ``service_tier``,
  ``prompt_cache_key``, ...); see :mod:`.options` for the remainders of
  ``tools``, ``tool_choice``, ``text`` and ``reasoning``.  ``include_usage`` is
  set for streams: Responses streams always end with usage.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)
from omnirouter.ir.chat import Role
from omnirouter.protocols.fields import opt_bool, opt_dict, opt_str
from omnirouter.protocols.limits import TEMPERATURE, TOKENS, TOP_P
from omnirouter.protocols.openai_chat.request_decode import number
from omnirouter.protocols.openai_responses._shared import PROTOCOL, invalid
from omnirouter.protocols.openai_responses.items import (
    CallSignature,
    decode_content,
    decode_function_call,
    decode_part,
    decode_reasoning_item,
)
from omnirouter.protocols.openai_responses.options import (
    decode_reasoning,
    decode_text,
    decode_tool_choice,
    decode_tools,
)

MAPPED_FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "stream",
        "max_output_tokens",
        "temperature",
        "top_p",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "text",
        "metadata",
        "user",
    }
)
"""Top-level fields with a place in the IR; all others go to ``extra``."""

_MESSAGE_ROLES: dict[str, Role] = {
    "user": "user",
    "system": "system",
    "developer": "developer",
    "assistant": "assistant",
}
_USER_SIDE = frozenset({"mcp_approval_response"})


def _assistant_side(kind: str) -> bool:
    return kind not in _USER_SIDE and (kind.endswith("_call") or kind.startswith("mcp_"))


class _Items:
    """Accumulates messages while walking the input items."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.assistant: Message | None = None
        self.names: dict[str, str] = {}
        self.carried: dict[str, CallSignature] = {}

    def add_assistant(self, parts: list[Part]) -> None:
        if self.assistant is None:
            self.assistant = Message(role="assistant")
            self.messages.append(self.assistant)
        self.assistant.content.extend(parts)

    def add(self, message: Message) -> None:
        self.assistant = None
        self.messages.append(message)

    def item(self, raw: Any, param: str) -> None:
        if not isinstance(raw, dict):
            raise invalid(f"'{param}' must be an object", param)
        kind = raw.get("type")
        if kind is None and "role" not in raw and isinstance(raw.get("id"), str):
            kind = "item_reference"  # the spec allows an item reference without its type
        if kind is None or kind == "message":
            self.message(raw, param)
        elif not isinstance(kind, str):
            raise invalid(f"'{param}.type' must be a string", f"{param}.type")
        elif kind == "function_call":
            call = decode_function_call(raw, param)
            self.names[call.id] = call.name
            self.add_assistant([call])
        elif kind == "function_call_output":
            self.add(self.tool_output(raw, param))
        elif kind == "reasoning":
            part = decode_reasoning_item(raw)
            if isinstance(part, CallSignature):
                self.carried[part.call_id] = part
            else:
                self.add_assistant([part])
        elif _assistant_side(kind):
            self.add_assistant([UnknownPart(protocol=PROTOCOL, data=raw)])
        else:
            self.add(Message(role="user", content=[UnknownPart(protocol=PROTOCOL, data=raw)]))

    def message(self, raw: dict[str, Any], param: str) -> None:
        role = raw.get("role")
        if not isinstance(role, str) or role not in _MESSAGE_ROLES:
            raise invalid(f"'{param}.role' must be one of user, system, developer, assistant (got {role!r})", param)
        if "content" not in raw:
            raise invalid(f"'{param}.content' is required", f"{param}.content")
        content = decode_content(raw.get("content"), f"{param}.content")
        if role == "assistant":
            self.add_assistant(content)
        else:
            self.add(Message(role=_MESSAGE_ROLES[role], content=content))

    def tool_output(self, raw: dict[str, Any], param: str) -> Message:
        call_id = raw.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise invalid(f"'{param}.call_id' must be a non-empty string", f"{param}.call_id")
        output = raw.get("output")
        content: list[TextPart | ImagePart] = []
        if isinstance(output, str):
            content = [TextPart(text=output)] if output else []
        elif isinstance(output, list):
            for i, part in enumerate(output):
                decoded = decode_part(part, f"{param}.output[{i}]")
                if isinstance(decoded, TextPart | ImagePart):
                    content.append(decoded)
        elif output is not None:
            raise invalid(f"'{param}.output' must be a string or an array of content parts", f"{param}.output")
        name = opt_str(raw, "name", f"{param}.name") or self.names.get(call_id)
        return Message(role="tool", content=[ToolResultPart(call_id=call_id, content=content, name=name)])

    def restore_signatures(self) -> None:
        """Put carried call signatures back on their calls."""
        if not self.carried:
            return
        for message in self.messages:
            for part in message.content:
                if isinstance(part, ToolCallPart) and part.signature is None and part.id in self.carried:
                    carried = self.carried[part.id]
                    part.signature, part.signature_origin = carried.signature, carried.origin


def decode_input(value: Any, messages: list[Message]) -> None:
    """Append the messages of ``input`` (a string or a list of items)."""
    if isinstance(value, str):
        messages.append(Message(role="user", content=[TextPart(text=value)]))
        return
    if not isinstance(value, list):
        raise invalid("'input' must be a string or an array of input items", "input")
    items = _Items(messages)
    for i, raw in enumerate(value):
        items.item(raw, f"input[{i}]")
    items.restore_signatures()


def decode_request(body: dict[str, Any]) -> ChatRequest:
    """Decode and validate a Responses request body."""
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("'model' is required and must be a non-empty string", "model")
    messages: list[Message] = []
    instructions = opt_str(body, "instructions", "instructions")
    if instructions:
        messages.append(Message(role="system", content=[TextPart(text=instructions)]))
    if body.get("input") is not None:
        decode_input(body["input"], messages)
    elif not any(body.get(k) for k in ("previous_response_id", "conversation", "prompt")):
        raise invalid("Missing required parameter: 'input'", "input")
    tools, other_tools = decode_tools(body.get("tools"))
    tool_choice, raw_choice = decode_tool_choice(body.get("tool_choice"))
    response_format, text_rest = decode_text(body.get("text"))
    reasoning, reasoning_rest = decode_reasoning(body.get("reasoning"))
    extra = {k: v for k, v in body.items() if k not in MAPPED_FIELDS}
    for key, rest in (("tools", other_tools), ("tool_choice", raw_choice), ("text", text_rest)):
        if rest:
            extra[key] = rest
    if reasoning_rest:
        extra["reasoning"] = reasoning_rest
    stream = bool(opt_bool(body, "stream", "stream"))
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        max_tokens=number(body, "max_output_tokens", TOKENS),
        temperature=number(body, "temperature", TEMPERATURE),
        top_p=number(body, "top_p", TOP_P),
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=opt_bool(body, "parallel_tool_calls", "parallel_tool_calls"),
        reasoning=reasoning,
        response_format=response_format,
        include_usage=stream,
        user=opt_str(body, "user", "user"),
        metadata=opt_dict(body, "metadata", "metadata"),
        source_protocol=PROTOCOL,
        extra=extra,
    )
