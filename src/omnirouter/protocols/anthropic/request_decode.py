"""A client's Messages request body → IR :class:`ChatRequest`.

Every mapped field is type-checked; a wrong type raises
``GatewayError(INVALID_REQUEST, param=<dotted path>)`` worded like Anthropic's own
errors, never another exception.  ``max_tokens`` is required, as Anthropic requires it.

* ``system`` (a string or text blocks) becomes one leading ``system`` message; a
  ``system`` role inside ``messages`` (the SDK's ``SystemMessageParam``) is kept where it is.
* ``thinking`` and ``output_config.effort`` → :class:`ReasoningConfig`: enabled →
  ``budget_tokens``; adaptive → effort (possibly none); disabled → effort ``none``;
  effort without ``thinking`` → effort (the side table remembers that no thinking
  was asked for).  ``output_config.format`` (json_schema) → :class:`ResponseFormat`.
* ``tool_choice`` auto / any / none / tool ↔ auto / required / none / tool;
  ``disable_parallel_tool_use`` ↔ ``parallel_tool_calls`` (negated).
* ``metadata.user_id`` → ``user``; ``stop_sequences`` → ``stop``.
* Server tools (a ``type`` other than ``custom``) have no IR form: they are kept in
  the side table for an Anthropic upstream and dropped for others.
* Other top-level fields (``context_management``, ``service_tier``, ``container``,
  ``mcp_servers``, top-level ``cache_control`` …) go to ``extra``.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChatRequest, Message, Part, ReasoningConfig, ResponseFormat, ToolChoice, ToolDef
from omnirouter.protocols.anthropic._shared import (
    PROTOCOL,
    invalid,
    opt_bool,
    opt_dict,
    opt_str,
    out_of_bounds,
    req_str,
)
from omnirouter.protocols.anthropic.content import ContentDecoder
from omnirouter.protocols.anthropic.side import SIDE_KEY, SideTable
from omnirouter.protocols.limits import TEMPERATURE, TOKENS, TOP_K, TOP_P, number_field

MAPPED_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
        "output_config",
        SIDE_KEY,
    }
)
"""Top-level fields with a place in the IR; all others go to ``extra``."""

ROLES = frozenset({"user", "assistant", "system"})

_TOOL_FIELDS = frozenset({"name", "description", "input_schema", "strict"})


def _system(value: Any, decoder: ContentDecoder) -> list[Part]:
    if isinstance(value, list):
        for j, block in enumerate(value):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise invalid("Input should be a text block", f"system.{j}")
    elif not isinstance(value, str):
        raise invalid("Input should be a valid string or a list of text blocks", "system")
    return decoder.decode(value, 0, "system")


def decode_messages(body: dict[str, Any], side: SideTable) -> list[Message]:
    """``system`` and ``messages`` as IR messages."""
    decoder = ContentDecoder(side)
    out: list[Message] = []
    if body.get("system") is not None:
        system = _system(body["system"], decoder)
        if system:
            out.append(Message(role="system", content=system))
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise invalid("Field required: a list of messages", "messages")
    if not raw:
        raise invalid("at least one message is required", "messages")
    for i, message in enumerate(raw):
        param = f"messages.{i}"
        if not isinstance(message, dict):
            raise invalid("Input should be a valid dictionary", param)
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise invalid(f"Input should be 'user' or 'assistant' (got {role!r})", f"{param}.role")
        if "content" not in message:
            raise invalid("Field required", f"{param}.content")
        content = decoder.decode(message["content"], len(out), f"{param}.content")
        out.append(
            Message(
                role="user" if role == "user" else "assistant" if role == "assistant" else "system", content=content
            )
        )
    return out


def decode_tools(value: Any, side: SideTable) -> list[ToolDef] | None:
    """Custom tools as :class:`ToolDef`; server tools into the side table."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid("Input should be a valid list", "tools")
    tools: list[ToolDef] = []
    for i, tool in enumerate(value):
        param = f"tools.{i}"
        if not isinstance(tool, dict):
            raise invalid("Input should be a valid dictionary", param)
        kind = tool.get("type")
        if kind is not None and not isinstance(kind, str):
            raise invalid("Input should be a valid string", f"{param}.type")
        if kind not in (None, "custom"):
            side.server_tool(i, tool)
            continue
        name = req_str(tool, "name", f"{param}.name")
        if not name:
            raise invalid("String should have at least 1 character", f"{param}.name")
        schema = opt_dict(tool, "input_schema", f"{param}.input_schema")
        if schema is None:
            raise invalid("Field required", f"{param}.input_schema")
        side.tool(len(tools), {k: v for k, v in tool.items() if k not in _TOOL_FIELDS})
        tools.append(
            ToolDef(
                name=name,
                description=opt_str(tool, "description", f"{param}.description"),
                parameters=schema,
                strict=opt_bool(tool, "strict", f"{param}.strict"),
            )
        )
    return tools or None


def decode_tool_choice(value: Any) -> tuple[ToolChoice | None, bool | None]:
    """``tool_choice`` as a :class:`ToolChoice` and ``parallel_tool_calls``."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise invalid("Input should be a valid dictionary", "tool_choice")
    kind = value.get("type")
    disable = opt_bool(value, "disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use")
    parallel = None if disable is None else not disable
    if kind == "auto":
        return ToolChoice(mode="auto"), parallel
    if kind == "any":
        return ToolChoice(mode="required"), parallel
    if kind == "none":
        return ToolChoice(mode="none"), parallel
    if kind == "tool":
        name = req_str(value, "name", "tool_choice.name")
        return ToolChoice(mode="tool", name=name), parallel
    raise invalid("Input tag should be one of 'auto', 'any', 'tool', 'none'", "tool_choice.type")


def _output_config(body: dict[str, Any], side: SideTable) -> tuple[ResponseFormat | None, str | None]:
    config = opt_dict(body, "output_config", "output_config")
    if config is None:
        return None, None
    effort = opt_str(config, "effort", "output_config.effort")
    fmt = opt_dict(config, "format", "output_config.format")
    side.set("output_config", {k: v for k, v in config.items() if k not in ("effort", "format")})
    if fmt is None:
        return None, effort
    if fmt.get("type") != "json_schema":
        raise invalid("Input tag should be 'json_schema'", "output_config.format.type")
    schema = opt_dict(fmt, "schema", "output_config.format.schema")
    if schema is None:
        raise invalid("Field required", "output_config.format.schema")
    return ResponseFormat(type="json_schema", schema=schema), effort


def _reasoning(
    body: dict[str, Any], effort: str | None, side: SideTable, extra: dict[str, Any]
) -> ReasoningConfig | None:
    thinking = opt_dict(body, "thinking", "thinking")
    if thinking is None:
        side.set("thinking_type", "absent" if effort is not None else None)
        return ReasoningConfig(effort=effort) if effort is not None else None
    kind = thinking.get("type")
    if not isinstance(kind, str):
        raise invalid("Field required: a string 'type'", "thinking.type")
    side.set("thinking_display", thinking.get("display"))
    if kind == "enabled":
        budget = number_field(thinking, "budget_tokens", TOKENS, "thinking.budget_tokens", out_of_bounds)
        if budget is None:
            raise invalid("Field required", "thinking.budget_tokens")
        return ReasoningConfig(budget_tokens=budget, effort=effort)
    if kind == "adaptive":
        return ReasoningConfig(effort=effort)
    if kind == "disabled":
        side.set("effort", effort)
        return ReasoningConfig(effort="none")
    extra["thinking"] = thinking
    side.set("thinking_type", "absent" if effort is not None else None)
    return ReasoningConfig(effort=effort) if effort is not None else None


def _stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return list(value) or None
    raise invalid("Input should be a list of strings", "stop_sequences")


def decode_request(body: dict[str, Any]) -> ChatRequest:
    """Decode and validate a Messages request body."""
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("Field required: a non-empty string", "model")
    max_tokens = number_field(body, "max_tokens", TOKENS, "max_tokens", out_of_bounds)
    if max_tokens is None:
        raise invalid("Field required", "max_tokens")
    side = SideTable()
    extra = {k: v for k, v in body.items() if k not in MAPPED_FIELDS}
    messages = decode_messages(body, side)
    tool_choice, parallel = decode_tool_choice(body.get("tool_choice"))
    response_format, effort = _output_config(body, side)
    metadata = opt_dict(body, "metadata", "metadata") or {}
    user = opt_str(metadata, "user_id", "metadata.user_id")
    rest = {k: v for k, v in metadata.items() if k != "user_id"}
    request = ChatRequest(
        model=model,
        messages=messages,
        stream=bool(opt_bool(body, "stream", "stream")),
        max_tokens=max_tokens,
        temperature=number_field(body, "temperature", TEMPERATURE, "temperature", out_of_bounds),
        top_p=number_field(body, "top_p", TOP_P, "top_p", out_of_bounds),
        top_k=number_field(body, "top_k", TOP_K, "top_k", out_of_bounds),
        stop=_stop(body.get("stop_sequences")),
        tools=decode_tools(body.get("tools"), side),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        reasoning=_reasoning(body, effort, side, extra),
        response_format=response_format,
        include_usage=True,
        user=user,
        metadata=rest or None,
        source_protocol=PROTOCOL,
        extra=extra,
    )
    side.store(request.extra)
    return request
