"""Request options ↔ IR: ``tools``, ``tool_choice``, ``text.format`` and ``reasoning``.

* Function tools (flat ``{type: function, name, description, parameters,
  strict}``) map to :class:`ToolDef`.  The function tools inside a ``namespace``
  tool are flattened into ToolDefs named by :func:`flat_tool_name`
  (``mcp__github__`` + ``search`` → ``mcp__github__search``) so that any
  upstream can call them; a call of a flat name is split back into
  ``namespace`` + ``name`` for Responses clients and upstreams.
* Every tool that is not a plain function (``namespace`` tools, hosted tools such
  as ``web_search``, ``file_search``, ``custom``, ``mcp``) is kept verbatim in
  ``extra["tools"]``: it reaches Responses upstreams unchanged and is dropped
  for other protocols.
* ``tool_choice`` shapes other than auto / required / none / one function are
  kept in ``extra["tool_choice"]`` (auto for other protocols).
* Keys of ``text`` and ``reasoning`` beyond ``format`` / ``effort`` and
  ``summary`` (``verbosity``, ``generate_summary``, ...) are kept in
  ``extra["text"]`` / ``extra["reasoning"]`` and merged back for Responses.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ReasoningConfig, ResponseFormat, ToolChoice, ToolDef
from omnirouter.ir.reasoning import budget_to_effort
from omnirouter.protocols.fields import opt_bool, opt_dict, opt_str
from omnirouter.protocols.openai_responses._shared import flat_tool_name, invalid


def _function_tool(tool: dict[str, Any], param: str, namespace: str | None = None) -> ToolDef:
    name = opt_str(tool, "name", f"{param}.name")
    if not name:
        raise invalid(f"'{param}.name' must be a non-empty string", f"{param}.name")
    return ToolDef(
        name=flat_tool_name(namespace, name),
        description=opt_str(tool, "description", f"{param}.description"),
        parameters=opt_dict(tool, "parameters", f"{param}.parameters"),
        strict=opt_bool(tool, "strict", f"{param}.strict"),
    )


def decode_tools(value: Any) -> tuple[list[ToolDef] | None, list[dict[str, Any]]]:
    """``tools`` → (function ToolDefs incl. flattened namespace functions, the other tools verbatim)."""
    if value is None:
        return None, []
    if not isinstance(value, list):
        raise invalid("'tools' must be an array", "tools")
    defs: list[ToolDef] = []
    others: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, tool in enumerate(value):
        param = f"tools[{i}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise invalid(f"'{param}' must be an object with a string 'type'", param)
        kind = tool["type"]
        found: list[ToolDef] = []
        if kind == "function":
            found.append(_function_tool(tool, param))
        else:
            others.append(tool)
        if kind == "namespace":
            namespace = opt_str(tool, "name", f"{param}.name")
            nested = tool.get("tools")
            if not namespace or not isinstance(nested, list):
                raise invalid(f"'{param}' must have a 'name' and a 'tools' array", param)
            for j, inner in enumerate(nested):
                sub = f"{param}.tools[{j}]"
                if not isinstance(inner, dict):
                    raise invalid(f"'{sub}' must be an object", sub)
                if inner.get("type", "function") == "function":
                    found.append(_function_tool(inner, sub, namespace))
        for tool_def in found:
            if tool_def.name not in seen:
                seen.add(tool_def.name)
                defs.append(tool_def)
    return defs or None, others


def namespace_map(extra_tools: Any) -> dict[str, tuple[str, str]]:
    """Flat name → ``(namespace, name)`` for the function tools of verbatim ``namespace`` tools."""
    mapping: dict[str, tuple[str, str]] = {}
    if not isinstance(extra_tools, list):
        return mapping
    for tool in extra_tools:
        if not isinstance(tool, dict) or tool.get("type") != "namespace" or not isinstance(tool.get("name"), str):
            continue
        for inner in tool.get("tools") or ():
            if isinstance(inner, dict) and inner.get("type", "function") == "function":
                name = inner.get("name")
                if isinstance(name, str) and name:
                    mapping.setdefault(flat_tool_name(tool["name"], name), (tool["name"], name))
    return mapping


def encode_tool(tool: ToolDef) -> dict[str, Any]:
    """A flat function tool (``parameters`` and ``strict`` always present, possibly null)."""
    out: dict[str, Any] = {"type": "function", "name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["parameters"] = tool.parameters
    out["strict"] = tool.strict
    return out


def decode_tool_choice(value: Any) -> tuple[ToolChoice | None, Any]:
    """``tool_choice`` → (IR choice, the raw value when only Responses understands it)."""
    if value is None:
        return None, None
    if value in ("auto", "required", "none"):
        return ToolChoice(mode=value), None
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        name = value.get("name")
        if value["type"] == "function" and isinstance(name, str) and name:
            return ToolChoice(mode="tool", name=name), None
        return None, value
    raise invalid("'tool_choice' must be 'auto', 'required', 'none' or an object with a 'type'", "tool_choice")


def encode_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """``tool_choice``; a named choice without a name falls back to ``required``."""
    if choice.mode == "tool":
        return {"type": "function", "name": choice.name} if choice.name else "required"
    return choice.mode


def decode_text(value: Any) -> tuple[ResponseFormat | None, dict[str, Any]]:
    """``text`` → (``format`` as ResponseFormat, the other keys)."""
    if value is None:
        return None, {}
    if not isinstance(value, dict):
        raise invalid("'text' must be an object", "text")
    rest = {k: v for k, v in value.items() if k != "format"}
    fmt = value.get("format")
    if fmt is None:
        return None, rest
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in ("text", "json_object"):
        return ResponseFormat(type=kind), rest
    if kind == "json_schema":
        assert isinstance(fmt, dict)
        param = "text.format"
        return (
            ResponseFormat(
                type="json_schema",
                name=opt_str(fmt, "name", f"{param}.name"),
                schema=opt_dict(fmt, "schema", f"{param}.schema"),
                strict=opt_bool(fmt, "strict", f"{param}.strict"),
                description=opt_str(fmt, "description", f"{param}.description"),
            ),
            rest,
        )
    raise invalid("'text.format.type' must be 'text', 'json_object' or 'json_schema'", "text.format.type")


def encode_format(fmt: ResponseFormat) -> dict[str, Any]:
    """``text.format``; a json_schema without a name is named ``response``."""
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    out: dict[str, Any] = {"type": "json_schema", "name": fmt.name or "response"}
    if fmt.description is not None:
        out["description"] = fmt.description
    out["schema"] = fmt.schema if fmt.schema is not None else {"type": "object"}
    if fmt.strict is not None:
        out["strict"] = fmt.strict
    return out


def decode_reasoning(value: Any) -> tuple[ReasoningConfig | None, dict[str, Any]]:
    """``reasoning {effort, summary}`` → (config, the other keys); a summary asks for thoughts."""
    if value is None:
        return None, {}
    if not isinstance(value, dict):
        raise invalid("'reasoning' must be an object", "reasoning")
    effort = opt_str(value, "effort", "reasoning.effort")
    summary = opt_str(value, "summary", "reasoning.summary")
    rest = {k: v for k, v in value.items() if k not in ("effort", "summary")}
    if effort is None and summary is None:
        return None, rest
    return ReasoningConfig(effort=effort, summary=summary, include_thoughts=True if summary else None), rest


def encode_reasoning(config: ReasoningConfig) -> dict[str, Any]:
    """``reasoning``: the effort (from the shared budget table when only a budget is set) and summary."""
    effort = config.effort
    if effort is None and config.budget_tokens is not None:
        effort = budget_to_effort(config.budget_tokens)
    summary = config.summary or ("auto" if config.include_thoughts else None)
    out: dict[str, Any] = {}
    if effort is not None:
        out["effort"] = effort
    if summary is not None:
        out["summary"] = summary
    return out


def reasoning_requested(config: ReasoningConfig | None) -> bool:
    """Whether the request asks for thinking (an effort other than none, a budget, or thoughts)."""
    if config is None:
        return False
    if config.effort is not None:
        return config.effort != "none"
    if config.budget_tokens is not None:
        return config.budget_tokens > 0
    return bool(config.summary or config.include_thoughts)
