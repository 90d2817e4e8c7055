"""IR :class:`ChatRequest` → a Chat Completions request body for an upstream.

Rules for what OpenAI cannot say directly:

* ``extra`` is copied only when the request was decoded from OpenAI Chat.
* Streaming always asks for ``stream_options.include_usage`` (the gateway
  needs usage), whatever the client asked.
* ``max_tokens`` is sent as ``max_completion_tokens`` (providers that only know
  ``max_tokens`` rename it).  ``top_k`` (vLLM, llama.cpp) and ``metadata`` are
  sent only for OpenAI-sourced requests: OpenAI itself rejects ``top_k``, and
  other protocols' metadata (Anthropic ``user_id``) means something else.
* ``tool_choice`` and ``parallel_tool_calls`` are sent only with tools
  (OpenAI rejects them alone).
* A reasoning budget without an effort becomes ``reasoning_effort`` low (< 4096
  tokens), medium (< 16384) or high; ``summary`` / ``include_thoughts`` are dropped.
* Tool results inside any message become ``tool`` messages (after the assistant
  message, before the rest of a user message).  Their images, which tool
  messages cannot hold, follow in one ``user`` message; ``is_error`` and
  ``name`` have no field and are dropped.
* Reasoning goes to ``reasoning_content`` (and ``thinking_blocks`` when signed,
  see :mod:`.content`), signatures to ``extra_content``: upstreams that reject
  unknown message fields need a provider quirk that strips them.
* ``modalities`` and ``image_config`` (OpenRouter's image settings) only when asked for.
* Parts OpenAI has no place for (a file given only by URL, parts of other
  protocols' ``UnknownPart``) are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omnirouter.ir import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    ReasoningConfig,
    ReasoningPart,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolDef,
    ToolResultPart,
    UnknownPart,
)
from omnirouter.protocols.openai_chat._shared import PROTOCOL
from omnirouter.protocols.openai_chat.content import (
    encode_content,
    encode_part,
    encode_reasoning,
    encode_tool_call,
)
from omnirouter.protocols.openai_chat.media import encode_image_output


def _tool_result_content(part: ToolResultPart) -> str | list[dict[str, Any]]:
    texts = [p for p in part.content if isinstance(p, TextPart)]
    if len(texts) == 1:
        return texts[0].text
    if not texts:
        return ""
    return [{"type": "text", "text": p.text} for p in texts]


def _tool_messages(results: list[ToolResultPart]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": r.call_id, "content": _tool_result_content(r)} for r in results
    ]
    images = [encode_part(p) for r in results for p in r.content if isinstance(p, ImagePart)]
    image_parts = [p for p in images if p is not None]
    if image_parts:
        out.append({"role": "user", "content": image_parts})
    return out


def _assistant_message(message: Message, parts: Sequence[Part]) -> dict[str, Any]:
    texts: list[Part] = []
    calls: list[dict[str, Any]] = []
    reasoning: list[ReasoningPart] = []
    for part in parts:
        if isinstance(part, TextPart) or (isinstance(part, UnknownPart) and part.protocol == PROTOCOL):
            texts.append(part)
        elif isinstance(part, ToolCallPart):
            calls.append(encode_tool_call(part, for_client=False))
        elif isinstance(part, ReasoningPart):
            reasoning.append(part)
    out: dict[str, Any] = {
        "role": "assistant",
        "content": encode_content(texts) if texts or not calls else None,
    }
    if message.name is not None:
        out["name"] = message.name
    encode_reasoning(reasoning, out, for_client=False)
    if calls:
        out["tool_calls"] = calls
    return out


def encode_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """IR messages as the ``messages`` array."""
    out: list[dict[str, Any]] = []
    for message in messages:
        results = [p for p in message.content if isinstance(p, ToolResultPart)]
        rest = [p for p in message.content if not isinstance(p, ToolResultPart)]
        if message.role == "assistant":
            if rest or not results:
                out.append(_assistant_message(message, rest))
            out.extend(_tool_messages(results))
            continue
        out.extend(_tool_messages(results))
        if rest or not results:
            plain: dict[str, Any] = {
                "role": "user" if message.role == "tool" else message.role,
                "content": encode_content(rest),
            }
            if message.name is not None:
                plain["name"] = message.name
            out.append(plain)
    return out


def encode_tool(tool: ToolDef) -> dict[str, Any]:
    """A tool definition."""
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def encode_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """``tool_choice``; a named choice without a name falls back to ``required``."""
    if choice.mode == "tool":
        if choice.name is None:
            return "required"
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def encode_response_format(fmt: ResponseFormat) -> dict[str, Any]:
    """``response_format``; a json_schema without a name is named ``response``."""
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec: dict[str, Any] = {"name": fmt.name or "response"}
    if fmt.description is not None:
        spec["description"] = fmt.description
    if fmt.schema is not None:
        spec["schema"] = fmt.schema
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}


def effort_for(reasoning: ReasoningConfig) -> str | None:
    """The ``reasoning_effort`` for a reasoning config (from the budget when no effort is given)."""
    if reasoning.effort is not None:
        return reasoning.effort
    budget = reasoning.budget_tokens
    if budget is None:
        return None
    if budget < 4096:
        return "low"
    return "medium" if budget < 16384 else "high"


def encode_request(request: ChatRequest) -> dict[str, Any]:
    """The body to POST to an OpenAI-compatible ``/chat/completions``."""
    same_protocol = request.source_protocol == PROTOCOL
    body: dict[str, Any] = dict(request.extra) if same_protocol else {}
    stream_options = body.pop("stream_options", None)
    body["model"] = request.model
    body["messages"] = encode_messages(request.messages)
    if request.stream:
        body["stream"] = True
        extra_options = stream_options if isinstance(stream_options, dict) else {}
        body["stream_options"] = {**extra_options, "include_usage": True}
    optional: dict[str, Any] = {
        "max_completion_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k if same_protocol else None,
        "stop": request.stop,
        "seed": request.seed,
        "n": request.n,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
        "user": request.user,
        "metadata": request.metadata if same_protocol else None,
    }
    if request.tools:
        optional["tools"] = [encode_tool(t) for t in request.tools]
        optional["parallel_tool_calls"] = request.parallel_tool_calls
        if request.tool_choice is not None:
            optional["tool_choice"] = encode_tool_choice(request.tool_choice)
    if request.reasoning is not None:
        optional["reasoning_effort"] = effort_for(request.reasoning)
    if request.response_format is not None:
        optional["response_format"] = encode_response_format(request.response_format)
    if request.modalities:
        optional["modalities"] = list(request.modalities)
    if request.image_output is not None:
        optional["image_config"] = encode_image_output(request.image_output) or None
    body.update((k, v) for k, v in optional.items() if v is not None)
    return body
