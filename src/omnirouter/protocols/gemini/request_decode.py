"""A Gemini client's ``GenerateContentRequest`` body → IR :class:`ChatRequest`.

The model and streaming are in the URL, so ``model`` is ``""`` and ``stream``
``False`` here (the route fills them in); a ``model`` field in the body is
ignored.  camelCase and snake_case field names are both accepted.
Consecutive contents of one role are one IR message (the SDK's chat history
keeps every streamed chunk as its own content); a user turn made only of
function responses is a ``tool`` message.  Calls and responses without ids get
ids derived from their position (stable from turn to turn), and a response
without an id answers the first open call of its name.

Kept in ``extra`` for a Gemini upstream: ``safetySettings``, ``cachedContent``,
``labels`` and other unknown fields; non-function tools (``googleSearch``,
``codeExecution``…) under ``tools``; ``toolConfig`` verbatim when the tool choice
cannot say it (``VALIDATED``, several allowed names, retrieval config); the
``generationConfig`` fields with no neutral meaning, including a response format
other than JSON / plain text and a ``thinkingConfig`` with a dynamic (-1) budget.
``responseModalities`` and ``imageConfig`` are read by :mod:`.media`.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChatRequest, Message, ReasoningConfig, ResponseFormat, TextPart, ToolChoice, ToolDef
from omnirouter.ir.chat import Part, ToolResultPart
from omnirouter.protocols.gemini._shared import PROTOCOL, camel_keys, child_bool, child_str, config_object, invalid
from omnirouter.protocols.gemini.content_decode import PartContext, decode_parts
from omnirouter.protocols.gemini.media import decode_image_config, decode_modalities
from omnirouter.protocols.gemini.schema import schema_to_json
from omnirouter.protocols.limits import (
    CHOICES,
    GEMINI_THINKING_BUDGET,
    GEMINI_TOP_K,
    PENALTY,
    SEED,
    TEMPERATURE,
    TOKENS,
    TOP_P,
    Bounds,
    number_field,
)

_MAPPED = frozenset({"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "model"})
_GENERATION_MAPPED = frozenset(
    {
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "stopSequences",
        "seed",
        "candidateCount",
        "presencePenalty",
        "frequencyPenalty",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "thinkingConfig",
        "responseModalities",
        "imageConfig",
    }
)
_FORMAT_KEYS = ("responseMimeType", "responseSchema", "responseJsonSchema")


def _number(obj: dict[str, Any], key: str, param: str, bounds: Bounds) -> Any:
    """``obj[key]`` within ``bounds``, ``None`` when absent or null (the error names ``param.key``)."""
    return number_field(obj, key, bounds, f"{param}.{key}")


def decode_contents(value: Any) -> list[Message]:
    """The ``contents`` array as IR messages."""
    if not isinstance(value, list) or not value:
        raise invalid("'contents' must be a non-empty array of Content objects", "contents")
    groups: list[tuple[str, list[tuple[Any, str]]]] = []
    for i, content in enumerate(value):
        param = f"contents[{i}]"
        if not isinstance(content, dict):
            raise invalid(f"'{param}' must be an object", param)
        role = content.get("role") or "user"
        if role not in ("user", "model"):
            raise invalid(f"'{param}.role' must be 'user' or 'model' (got {role!r})", f"{param}.role")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise invalid(f"'{param}.parts' must be a non-empty array", f"{param}.parts")
        items = [(part, f"{param}.parts[{j}]") for j, part in enumerate(parts)]
        if groups and groups[-1][0] == role:
            groups[-1][1].extend(items)
        else:
            groups.append((role, items))
    ctx = PartContext(from_client=True)
    messages: list[Message] = []
    for role, items in groups:
        if role == "model":
            ctx.pending.clear()
        decoded: list[Part] = decode_parts(items, ctx)
        if not decoded:
            continue
        if role == "model":
            messages.append(Message(role="assistant", content=decoded))
        elif all(isinstance(p, ToolResultPart) for p in decoded):
            messages.append(Message(role="tool", content=decoded))
        else:
            messages.append(Message(role="user", content=decoded))
    return messages


def decode_system(value: Any) -> list[Message]:
    """``systemInstruction`` (a Content, or a plain string) as one system message of its text parts."""
    if value is None:
        return []
    if isinstance(value, str):
        return [Message(role="system", content=[TextPart(text=value)])] if value else []
    content = config_object(value, "systemInstruction") or {}
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise invalid("'systemInstruction.parts' must be an array", "systemInstruction.parts")
    items = [(part, f"systemInstruction.parts[{j}]") for j, part in enumerate(parts)]
    texts: list[Part] = [p for p in decode_parts(items, PartContext(from_client=True)) if isinstance(p, TextPart)]
    return [Message(role="system", content=texts)] if texts else []


def decode_tools(value: Any) -> tuple[list[ToolDef] | None, list[dict[str, Any]]]:
    """``tools``: function declarations, and the other tool kinds kept as they are."""
    if value is None:
        return None, []
    if not isinstance(value, list):
        raise invalid("'tools' must be an array", "tools")
    tools: list[ToolDef] = []
    others: list[dict[str, Any]] = []
    for i, raw in enumerate(value):
        tool = config_object(raw, f"tools[{i}]") or {}
        rest = {k: v for k, v in tool.items() if k != "functionDeclarations"}
        if rest:
            others.append(rest)
        declarations = tool.get("functionDeclarations")
        if declarations is None:
            continue
        if not isinstance(declarations, list):
            raise invalid(f"'tools[{i}].functionDeclarations' must be an array", f"tools[{i}].functionDeclarations")
        for j, raw_decl in enumerate(declarations):
            param = f"tools[{i}].functionDeclarations[{j}]"
            decl = config_object(raw_decl, param) or {}
            name = child_str(decl, "name", param)
            if not name:
                raise invalid(f"'{param}.name' must be a non-empty string", f"{param}.name")
            parameters = decl.get("parametersJsonSchema")
            if parameters is None and decl.get("parameters") is not None:
                parameters = schema_to_json(decl["parameters"])
            if parameters is not None and not isinstance(parameters, dict):
                raise invalid(f"'{param}.parameters' must be an object", f"{param}.parameters")
            tools.append(ToolDef(name=name, description=child_str(decl, "description", param), parameters=parameters))
    return tools or None, others


def decode_tool_config(value: Any) -> tuple[ToolChoice | None, dict[str, Any] | None]:
    """``toolConfig.functionCallingConfig`` as a tool choice, and the raw config when that is lossy."""
    config = config_object(value, "toolConfig")
    if config is None:
        return None, None
    param = "toolConfig.functionCallingConfig"
    calling = config_object(config.get("functionCallingConfig"), param) or {}
    mode = child_str(calling, "mode", param)
    names = calling.get("allowedFunctionNames")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise invalid(f"'{param}.allowedFunctionNames' must be an array of strings", f"{param}.allowedFunctionNames")
    lossy = bool(set(config) - {"functionCallingConfig"} or set(calling) - {"mode", "allowedFunctionNames"})
    upper = (mode or "MODE_UNSPECIFIED").upper()
    choice: ToolChoice | None
    if upper == "ANY":
        choice = ToolChoice(mode="tool", name=names[0]) if names and len(names) == 1 else ToolChoice(mode="required")
        lossy = lossy or bool(names and len(names) > 1)
    elif upper in ("AUTO", "VALIDATED", "NONE", "MODE_UNSPECIFIED"):
        choice = {"AUTO": ToolChoice(), "VALIDATED": ToolChoice(), "NONE": ToolChoice(mode="none")}.get(upper)
        lossy = lossy or upper == "VALIDATED" or bool(names)
    else:
        raise invalid(f"'{param}.mode' must be AUTO, ANY, NONE or VALIDATED (got {mode!r})", f"{param}.mode")
    return choice, (value if lossy else None)


def decode_thinking(value: Any) -> tuple[ReasoningConfig | None, bool]:
    """``thinkingConfig`` as a reasoning config, and whether it lost something (a dynamic budget)."""
    param = "generationConfig.thinkingConfig"
    config = config_object(value, param)
    if config is None:
        return None, False
    budget = _number(config, "thinkingBudget", param, GEMINI_THINKING_BUDGET)
    level = child_str(config, "thinkingLevel", param)
    effort = level.lower() if level and level.upper() != "THINKING_LEVEL_UNSPECIFIED" else None
    budget_tokens = budget if budget is not None and budget >= 0 else None
    if budget_tokens == 0 and effort is None:
        effort = "none"
    include = child_bool(config, "includeThoughts", param)
    lossy = budget is not None and budget < 0
    if effort is None and budget_tokens is None and include is None:
        return None, lossy
    return ReasoningConfig(effort=effort, budget_tokens=budget_tokens, include_thoughts=include), lossy


def decode_response_format(config: dict[str, Any]) -> ResponseFormat | None:
    """``responseMimeType`` with ``responseJsonSchema`` / ``responseSchema``; ``None`` if not JSON or text."""
    param = "generationConfig"
    mime = child_str(config, "responseMimeType", param)
    schema = config.get("responseJsonSchema")
    if schema is None and config.get("responseSchema") is not None:
        schema = schema_to_json(config["responseSchema"])
    if schema is not None and not isinstance(schema, dict):
        raise invalid(f"'{param}.responseJsonSchema' must be an object", f"{param}.responseJsonSchema")
    if mime in (None, "application/json") and schema is not None:
        return ResponseFormat(type="json_schema", schema=schema)
    if mime == "application/json":
        return ResponseFormat(type="json_object")
    if mime == "text/plain" and schema is None:
        return ResponseFormat(type="text")
    return None


def _stop(config: dict[str, Any]) -> list[str] | None:
    value = config.get("stopSequences")
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return list(value) or None
    raise invalid("'generationConfig.stopSequences' must be an array of strings", "generationConfig.stopSequences")


def decode_request(body: dict[str, Any]) -> ChatRequest:
    """Decode and validate a ``generateContent`` / ``streamGenerateContent`` body."""
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object", None)
    body = camel_keys(body)
    messages = decode_system(body.get("systemInstruction")) + decode_contents(body.get("contents"))
    tools, other_tools = decode_tools(body.get("tools"))
    tool_choice, raw_tool_config = decode_tool_config(body.get("toolConfig"))
    config = config_object(body.get("generationConfig"), "generationConfig") or {}
    reasoning, thinking_lossy = decode_thinking(config.get("thinkingConfig"))
    response_format = decode_response_format(config)
    modalities, modalities_lossy = decode_modalities(config)
    image_output, image_lossy = decode_image_config(config)
    leftovers = {k: v for k, v in config.items() if k not in _GENERATION_MAPPED}
    if modalities_lossy:
        leftovers["responseModalities"] = config["responseModalities"]
    if image_lossy:
        leftovers["imageConfig"] = config["imageConfig"]
    if response_format is None:
        leftovers.update((k, config[k]) for k in _FORMAT_KEYS if k in config)
    if thinking_lossy:
        leftovers["thinkingConfig"] = config["thinkingConfig"]
    extra = {k: v for k, v in body.items() if k not in _MAPPED}
    if other_tools:
        extra["tools"] = other_tools
    if raw_tool_config is not None:
        extra["toolConfig"] = raw_tool_config
    if leftovers:
        extra["generationConfig"] = leftovers
    param = "generationConfig"
    top_k = _number(config, "topK", param, GEMINI_TOP_K)
    return ChatRequest(
        model="",
        messages=messages,
        stream=False,
        max_tokens=_number(config, "maxOutputTokens", param, TOKENS),
        temperature=_number(config, "temperature", param, TEMPERATURE),
        top_p=_number(config, "topP", param, TOP_P),
        top_k=round(top_k) if top_k is not None else None,
        stop=_stop(config),
        seed=_number(config, "seed", param, SEED),
        n=_number(config, "candidateCount", param, CHOICES),
        presence_penalty=_number(config, "presencePenalty", param, PENALTY),
        frequency_penalty=_number(config, "frequencyPenalty", param, PENALTY),
        tools=tools,
        tool_choice=tool_choice,
        reasoning=reasoning,
        response_format=response_format,
        modalities=modalities,
        image_output=image_output,
        include_usage=True,
        source_protocol=PROTOCOL,
        extra=extra,
    )
