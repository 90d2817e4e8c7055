"""A client's Chat Completions request body → IR :class:`ChatRequest`.

Every mapped field is type-checked; a wrong type raises
``GatewayError(INVALID_REQUEST, param=<field>)``, never another exception.
Top-level fields without a neutral meaning go to ``ChatRequest.extra``;
``modalities`` and image settings are read by :mod:`.media`.
Assistant ``refusal`` (field or content part) becomes a :class:`TextPart`;
tool results get the ``name`` of the call they answer when it can be found.
Rejected as unsupported: tools other than functions, ``tool_choice`` shapes
other than auto / required / none / one function, and the legacy ``function``
role.  Unknown message fields (e.g. ``cache_control``) are not kept.
"""

from __future__ import annotations

from typing import Any, get_args

from omnirouter.ir import (
    ChatRequest,
    Message,
    Part,
    ReasoningConfig,
    ResponseFormat,
    TextPart,
    ToolChoice,
    ToolDef,
    ToolResultPart,
)
from omnirouter.ir.chat import ImagePart, Role
from omnirouter.protocols.fields import opt_bool, opt_dict, opt_str
from omnirouter.protocols.limits import CHOICES, PENALTY, SEED, TEMPERATURE, TOKENS, TOP_K, TOP_P, Bounds, number_field
from omnirouter.protocols.openai_chat._shared import PROTOCOL, invalid
from omnirouter.protocols.openai_chat.content import decode_content, decode_reasoning, decode_tool_calls
from omnirouter.protocols.openai_chat.media import decode_image_output, decode_modalities

MAPPED_FIELDS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "seed",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
        "response_format",
        "user",
        "metadata",
        "modalities",
    }
)
"""Top-level fields with a place in the IR; all others go to ``extra``."""

_ROLES: frozenset[str] = frozenset(get_args(Role))


def _tool_message(raw: dict[str, Any], param: str, names: dict[str, str]) -> Message:
    call_id = raw.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise invalid(f"'{param}.tool_call_id' must be a non-empty string", f"{param}.tool_call_id")
    content: list[TextPart | ImagePart] = []
    for i, part in enumerate(decode_content(raw.get("content"), f"{param}.content")):
        if not isinstance(part, TextPart | ImagePart):
            sub = f"{param}.content[{i}]"
            raise invalid(f"'{sub}': tool messages may only contain text and image parts", sub)
        content.append(part)
    name = opt_str(raw, "name", f"{param}.name") or names.get(call_id)
    return Message(role="tool", content=[ToolResultPart(call_id=call_id, content=content, name=name)])


def _assistant_message(raw: dict[str, Any], param: str, names: dict[str, str]) -> Message:
    parts: list[Part] = []
    parts.extend(decode_reasoning(raw))
    parts.extend(decode_content(raw.get("content"), f"{param}.content"))
    refusal = opt_str(raw, "refusal", f"{param}.refusal")
    if refusal:
        parts.append(TextPart(text=refusal))
    for call in decode_tool_calls(raw.get("tool_calls"), f"{param}.tool_calls"):
        names[call.id] = call.name
        parts.append(call)
    return Message(role="assistant", content=parts, name=opt_str(raw, "name", f"{param}.name"))


def decode_messages(value: Any) -> list[Message]:
    """The ``messages`` array."""
    if not isinstance(value, list):
        raise invalid("'messages' must be an array of message objects", "messages")
    if not value:
        raise invalid("'messages' must contain at least one message", "messages")
    names: dict[str, str] = {}
    messages: list[Message] = []
    for i, raw in enumerate(value):
        param = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise invalid(f"'{param}' must be an object", param)
        role = raw.get("role")
        if role == "assistant":
            messages.append(_assistant_message(raw, param, names))
        elif role == "tool":
            messages.append(_tool_message(raw, param, names))
        elif isinstance(role, str) and role in _ROLES:
            content = decode_content(raw.get("content"), f"{param}.content")
            messages.append(Message(role=role, content=content, name=opt_str(raw, "name", f"{param}.name")))  # type: ignore[arg-type]
        elif role == "function":
            raise invalid(
                f"'{param}.role': the deprecated 'function' role is not supported, use 'tool'",
                f"{param}.role",
            )
        else:
            raise invalid(
                f"'{param}.role' must be one of system, developer, user, assistant, tool (got {role!r})",
                f"{param}.role",
            )
    return messages


def decode_tools(value: Any) -> list[ToolDef] | None:
    """The ``tools`` array; only function tools exist in the IR."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid("'tools' must be an array", "tools")
    tools: list[ToolDef] = []
    for i, tool in enumerate(value):
        param = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise invalid(f"'{param}' must be an object", param)
        if tool.get("type", "function") != "function":
            raise invalid(f"'{param}.type': only function tools are supported (got {tool.get('type')!r})", param)
        function = tool.get("function")
        if not isinstance(function, dict):
            raise invalid(f"'{param}.function' must be an object", f"{param}.function")
        sub = f"{param}.function"
        name = opt_str(function, "name", f"{sub}.name")
        if not name:
            raise invalid(f"'{sub}.name' must be a non-empty string", f"{sub}.name")
        tools.append(
            ToolDef(
                name=name,
                description=opt_str(function, "description", f"{sub}.description"),
                parameters=opt_dict(function, "parameters", f"{sub}.parameters"),
                strict=opt_bool(function, "strict", f"{sub}.strict"),
            )
        )
    return tools or None


def decode_tool_choice(value: Any) -> ToolChoice | None:
    """``tool_choice``: auto / required / none, or one named function."""
    if value is None:
        return None
    if value in ("auto", "required", "none"):
        return ToolChoice(mode=value)
    if isinstance(value, dict) and value.get("type") == "function":
        function = value.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name:
            return ToolChoice(mode="tool", name=name)
    raise invalid(
        "'tool_choice' must be 'auto', 'required', 'none' or {\"type\": \"function\", \"function\": {\"name\": ...}}",
        "tool_choice",
    )


def decode_response_format(value: Any) -> ResponseFormat | None:
    """``response_format``: text, json_object, or json_schema with name, schema, strict."""
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind in ("text", "json_object"):
        return ResponseFormat(type=kind)
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict):
            raise invalid("'response_format.json_schema' must be an object", "response_format.json_schema")
        param = "response_format.json_schema"
        return ResponseFormat(
            type="json_schema",
            name=opt_str(spec, "name", f"{param}.name"),
            schema=opt_dict(spec, "schema", f"{param}.schema"),
            strict=opt_bool(spec, "strict", f"{param}.strict"),
            description=opt_str(spec, "description", f"{param}.description"),
        )
    raise invalid("'response_format.type' must be 'text', 'json_object' or 'json_schema'", "response_format")


def number(body: dict[str, Any], key: str, bounds: Bounds, param: str | None = None) -> Any:
    """``body[key]`` within ``bounds`` (an ``int`` for integer fields), ``None`` when absent or null."""
    return number_field(body, key, bounds, param or key)


def _decode_stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return list(value) or None
    raise invalid("'stop' must be a string or an array of strings", "stop")


def decode_request(body: dict[str, Any]) -> ChatRequest:
    """Decode and validate a Chat Completions request body."""
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("'model' is required and must be a non-empty string", "model")
    messages = decode_messages(body.get("messages"))
    stream_options = opt_dict(body, "stream_options", "stream_options") or {}
    include_usage = opt_bool(stream_options, "include_usage", "stream_options.include_usage")
    effort = opt_str(body, "reasoning_effort", "reasoning_effort")
    max_tokens = number(body, "max_completion_tokens", TOKENS)
    if max_tokens is None:
        max_tokens = number(body, "max_tokens", TOKENS)
    extra = {k: v for k, v in body.items() if k not in MAPPED_FIELDS}
    other_options = {k: v for k, v in stream_options.items() if k != "include_usage"}
    if other_options:
        extra["stream_options"] = other_options
    image_output = decode_image_output(body, extra)
    return ChatRequest(
        model=model,
        messages=messages,
        stream=bool(opt_bool(body, "stream", "stream")),
        max_tokens=max_tokens,
        temperature=number(body, "temperature", TEMPERATURE),
        top_p=number(body, "top_p", TOP_P),
        top_k=number(body, "top_k", TOP_K),
        stop=_decode_stop(body.get("stop")),
        seed=number(body, "seed", SEED),
        n=number(body, "n", CHOICES),
        presence_penalty=number(body, "presence_penalty", PENALTY),
        frequency_penalty=number(body, "frequency_penalty", PENALTY),
        tools=decode_tools(body.get("tools")),
        tool_choice=decode_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=opt_bool(body, "parallel_tool_calls", "parallel_tool_calls"),
        reasoning=ReasoningConfig(effort=effort) if effort is not None else None,
        response_format=decode_response_format(body.get("response_format")),
        modalities=decode_modalities(body.get("modalities")),
        image_output=image_output,
        include_usage=bool(include_usage),
        user=opt_str(body, "user", "user"),
        metadata=opt_dict(body, "metadata", "metadata"),
        source_protocol=PROTOCOL,
        extra=extra,
    )
