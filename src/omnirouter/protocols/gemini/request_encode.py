"""IR :class:`ChatRequest` → a ``generateContent`` body for a Gemini upstream.

The model and streaming go into the URL (the provider registry builds it), never
into the body.  Rules for what Gemini cannot say directly:

* roles are ``user`` / ``model``; consecutive turns of one role are merged; tool
  results become ``functionResponse`` parts of a user turn (see
  :mod:`.content_encode` for signatures, media and result objects);
* system and developer text, wherever it stands, becomes ``systemInstruction``
  (other parts there are dropped); a conversation of system text only is sent
  as a user turn, since ``contents`` may not be empty;
* tools are sent as ``parametersJsonSchema`` (full JSON Schema); ``strict``,
  ``parallel_tool_calls``, ``user`` and ``metadata`` have no field and are
  dropped; a tool choice without tools is not sent; a named tool choice is
  ``ANY`` + ``allowedFunctionNames``;
* JSON output: ``responseMimeType: application/json`` (+ ``responseJsonSchema``);
  a schema's name, description and strictness are dropped;
* reasoning: for ``gemini-3*`` models an effort becomes ``thinkingLevel`` (none,
  minimal and low → LOW, else HIGH: the levels every Gemini 3 model takes);
  otherwise a budget is sent as ``thinkingBudget`` (an effort via
  ``ir/reasoning.py``, ``none`` → 0); ``summary`` turns ``includeThoughts`` on;
* at most 5 stop sequences (Gemini's limit) are sent;
* ``modalities`` → ``responseModalities`` (upper case), ``image_output`` → ``imageConfig``;
* ``extra`` (Gemini-sourced requests only) is written back, its ``tools`` added
  to the function declarations and its ``generationConfig`` merged last.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import (
    ChatRequest,
    Message,
    ReasoningConfig,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolDef,
    ToolResultPart,
)
from omnirouter.ir.reasoning import effort_to_budget
from omnirouter.protocols.gemini._shared import PROTOCOL
from omnirouter.protocols.gemini.content_encode import encode_parts
from omnirouter.protocols.gemini.media import encode_media_config

_MAX_STOP = 5
_LOW_EFFORTS = frozenset({"none", "minimal", "low"})
_HIGH_EFFORTS = frozenset({"medium", "high", "xhigh"})


def encode_contents(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(contents, system instruction parts)`` for the IR messages."""
    names = {p.id: p.name for m in messages for p in m.content if isinstance(p, ToolCallPart)}
    contents: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for message in messages:
        if message.role in ("system", "developer"):
            system.extend({"text": p.text} for p in message.content if isinstance(p, TextPart) and p.text)
        elif message.role == "assistant":
            rest = [p for p in message.content if not isinstance(p, ToolResultPart)]
            results = [p for p in message.content if isinstance(p, ToolResultPart)]
            add("model", encode_parts(rest, for_client=False, names=names))
            add("user", encode_parts(results, for_client=False, names=names))
        else:
            add("user", encode_parts(message.content, for_client=False, names=names))
    return contents, system


def encode_tool(tool: ToolDef) -> dict[str, Any]:
    """A ``functionDeclarations`` entry."""
    declaration: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        declaration["description"] = tool.description
    if tool.parameters is not None:
        declaration["parametersJsonSchema"] = tool.parameters
    return declaration


def encode_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    """``functionCallingConfig`` for a tool choice."""
    if choice.mode == "tool":
        config: dict[str, Any] = {"mode": "ANY"}
        if choice.name is not None:
            config["allowedFunctionNames"] = [choice.name]
        return config
    return {"mode": {"auto": "AUTO", "required": "ANY", "none": "NONE"}[choice.mode]}


def encode_response_format(fmt: ResponseFormat) -> dict[str, Any]:
    """``responseMimeType`` (+ ``responseJsonSchema``)."""
    if fmt.type == "text":
        return {"responseMimeType": "text/plain"}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if fmt.type == "json_schema" and fmt.schema is not None:
        out["responseJsonSchema"] = fmt.schema
    return out


def encode_thinking(reasoning: ReasoningConfig, model: str) -> dict[str, Any]:
    """``thinkingConfig`` for a reasoning config and the upstream model name."""
    config: dict[str, Any] = {}
    if reasoning.include_thoughts is not None:
        config["includeThoughts"] = reasoning.include_thoughts
    elif reasoning.summary not in (None, "none"):
        config["includeThoughts"] = True
    effort, budget = reasoning.effort, reasoning.budget_tokens
    if "gemini-3" in model.lower() and effort in _LOW_EFFORTS | _HIGH_EFFORTS:
        config["thinkingLevel"] = "LOW" if effort in _LOW_EFFORTS else "HIGH"
    elif budget is not None:
        config["thinkingBudget"] = budget
    elif effort == "none":
        config["thinkingBudget"] = 0
    elif effort is not None and effort_to_budget(effort) is not None:
        config["thinkingBudget"] = effort_to_budget(effort)
    return config


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    optional: dict[str, Any] = {
        "maxOutputTokens": request.max_tokens,
        "temperature": request.temperature,
        "topP": request.top_p,
        "topK": request.top_k,
        "stopSequences": request.stop[:_MAX_STOP] if request.stop else None,
        "seed": request.seed,
        "candidateCount": request.n,
        "presencePenalty": request.presence_penalty,
        "frequencyPenalty": request.frequency_penalty,
    }
    config = {k: v for k, v in optional.items() if v is not None}
    if request.response_format is not None:
        config.update(encode_response_format(request.response_format))
    if request.reasoning is not None:
        thinking = encode_thinking(request.reasoning, request.model)
        if thinking:
            config["thinkingConfig"] = thinking
    config.update(encode_media_config(request.modalities, request.image_output))
    return config


def encode_request(request: ChatRequest) -> dict[str, Any]:
    """The body to POST to ``models/{model}:generateContent`` (or ``:streamGenerateContent``)."""
    body: dict[str, Any] = dict(request.extra) if request.source_protocol == PROTOCOL else {}
    extra_tools = body.pop("tools", None)
    extra_tool_config = body.pop("toolConfig", None)
    extra_generation = body.pop("generationConfig", None)
    contents, system = encode_contents(request.messages)
    if system and not contents:
        contents = [{"role": "user", "parts": system}]
    elif system:
        body["systemInstruction"] = {"parts": system}
    body["contents"] = contents
    declarations = [encode_tool(t) for t in request.tools or []]
    tools: list[Any] = [{"functionDeclarations": declarations}] if declarations else []
    if isinstance(extra_tools, list):
        tools.extend(extra_tools)
    if tools:
        body["tools"] = tools
    if extra_tool_config is not None:
        body["toolConfig"] = extra_tool_config
    elif declarations and request.tool_choice is not None:
        body["toolConfig"] = {"functionCallingConfig": encode_tool_choice(request.tool_choice)}
    config = _generation_config(request)
    if isinstance(extra_generation, dict):
        config.update(extra_generation)
    if config:
        body["generationConfig"] = config
    return body
