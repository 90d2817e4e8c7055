"""IR :class:`ChatRequest` → a Messages request body for an Anthropic upstream.

Rules for what Anthropic cannot take as the IR has it:

* ``system`` / ``developer`` messages anywhere → the top-level ``system`` (a string
  when it is one plain text, else text blocks); their non-text parts are dropped.
* Turns must alternate: consecutive same-role turns are merged; ``tool`` messages
  and :class:`ToolResultPart` anywhere become ``tool_result`` blocks of a user turn,
  placed first in that turn in the order of the previous assistant turn's calls.
  Turns left empty (e.g. an assistant turn whose only text was ``""``) are dropped;
  a final assistant (prefill) text loses its trailing whitespace.
* ``max_tokens`` and ``thinking``: see :mod:`.thinking`.  When thinking is on but
  the last assistant turn calls tools without starting with an Anthropic thinking
  block (its reasoning came from another provider, or none was kept), ``thinking``
  is left out: Anthropic would reject the request.  For requests from other
  protocols it is also left out when ``tool_choice`` forces a tool (Anthropic
  rejects thinking with a forced tool; the forced call is kept).
* ``response_format`` json_schema → ``output_config.format``.  JSON mode
  (``json_object``, or json_schema without a schema) has no Anthropic twin: an
  object schema would need ``additionalProperties: false`` and so force ``{}``;
  instead one instruction is appended to ``system``.  ``name``/``description``/
  ``strict`` of a schema are dropped.
* ``user`` → ``metadata.user_id``; ``stop`` → ``stop_sequences``; ``seed``, ``n``,
  penalties and audio parts are dropped.
* For requests from other protocols only: ``strict`` of tools, other metadata, and
  (when thinking is on) ``temperature`` other than 1, ``top_p`` below 0.95 and
  ``top_k`` are dropped, as is ``top_p`` beside ``temperature`` (newer models
  reject both); Anthropic rejects them, an Anthropic client would have been told so.
* ``extra`` and the side table (:mod:`.side`) are written back only for requests
  decoded from Anthropic.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import ChatRequest, Message, ResponseFormat, TextPart, ToolChoice, ToolDef, ToolResultPart
from omnirouter.protocols.anthropic._shared import PROTOCOL
from omnirouter.protocols.anthropic.content import Block, ContentEncoder
from omnirouter.protocols.anthropic.side import EMPTY, SIDE_KEY, SideReader
from omnirouter.protocols.anthropic.thinking import thinking_for

JSON_MODE_INSTRUCTION = "Respond with a single valid JSON object only, with no other text before or after it."
_THINKING_BLOCKS = ("thinking", "redacted_thinking")


def _add(turns: list[tuple[str, list[Block]]], role: str, blocks: list[Block]) -> None:
    if not blocks:
        return
    if turns and turns[-1][0] == role:
        turns[-1][1].extend(blocks)
    else:
        turns.append((role, blocks))


def _order_results(turns: list[tuple[str, list[Block]]]) -> None:
    """Tool results first in each user turn, in the order of the previous turn's calls."""
    for i, (role, blocks) in enumerate(turns):
        if role != "user" or not any(b.get("type") == "tool_result" for b in blocks):
            continue
        calls = turns[i - 1][1] if i > 0 else []
        rank = {b.get("id"): k for k, b in enumerate(b for b in calls if b.get("type") == "tool_use")}
        results = sorted(
            (b for b in blocks if b.get("type") == "tool_result"),
            key=lambda b: rank.get(b.get("tool_use_id"), len(rank)),
        )
        blocks[:] = results + [b for b in blocks if b.get("type") != "tool_result"]


def _trim_prefill(turns: list[tuple[str, list[Block]]]) -> None:
    if not turns or turns[-1][0] != "assistant":
        return
    blocks = turns[-1][1]
    if blocks and blocks[-1].get("type") == "text" and isinstance(blocks[-1].get("text"), str):
        text = blocks[-1]["text"].rstrip()
        if text:
            blocks[-1] = {**blocks[-1], "text": text}
        else:
            blocks.pop()
    if not blocks:
        turns.pop()


def encode_messages(messages: list[Message], encoder: ContentEncoder) -> tuple[list[Block], list[dict[str, Any]]]:
    """IR messages as ``(system blocks, messages)``."""
    system: list[Block] = []
    turns: list[tuple[str, list[Block]]] = []
    for mi, message in enumerate(messages):
        if message.role in ("system", "developer"):
            for pi, part in enumerate(message.content):
                if isinstance(part, TextPart):
                    system.extend(encoder.part(part, mi, pi))
            continue
        main: list[Block] = []
        results: list[Block] = []
        for pi, part in enumerate(message.content):
            if isinstance(part, ToolResultPart):
                results.append(encoder.tool_result(part, mi, pi))
            else:
                main.extend(encoder.part(part, mi, pi))
        if message.role == "assistant":
            _add(turns, "assistant", main)
            _add(turns, "user", results)
        else:
            _add(turns, "user", results + main)
    _order_results(turns)
    _trim_prefill(turns)
    return system, [{"role": role, "content": blocks} for role, blocks in turns]


def _thinking_would_be_rejected(messages: list[dict[str, Any]]) -> bool:
    for message in reversed(messages):
        if message["role"] == "assistant":
            blocks = message["content"]
            calls = any(b.get("type") == "tool_use" for b in blocks)
            return calls and blocks[0].get("type") not in _THINKING_BLOCKS
    return False


def encode_tools(tools: list[ToolDef] | None, side: SideReader, *, same: bool) -> list[dict[str, Any]]:
    """Tool definitions, with the side table's server tools back at their places."""
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools or ()):
        block: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            block["description"] = tool.description
        block["input_schema"] = tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}}
        if tool.strict is not None and same:
            block["strict"] = tool.strict
        block.update(side.tool(i))
        out.append(block)
    for position, server_tool in sorted(side.server_tools, key=lambda entry: entry[0]):
        out.insert(min(position, len(out)), server_tool)
    return out


def encode_tool_choice(choice: ToolChoice | None, parallel: bool | None) -> dict[str, Any] | None:
    """``tool_choice`` (``None`` when nothing needs saying); a named choice without a name is ``any``."""
    if choice is None and parallel is None:
        return None
    mode = choice.mode if choice is not None else "auto"
    if mode == "none":
        return {"type": "none"}
    out: dict[str, Any] = {"type": {"auto": "auto", "required": "any", "tool": "any"}[mode]}
    if mode == "tool" and choice is not None and choice.name:
        out = {"type": "tool", "name": choice.name}
    if parallel is not None:
        out["disable_parallel_tool_use"] = not parallel
    return out


def _json_mode(fmt: ResponseFormat | None) -> bool:
    return fmt is not None and (fmt.type == "json_object" or (fmt.type == "json_schema" and fmt.schema is None))


def _sampling(request: ChatRequest, body: dict[str, Any], *, same: bool, thinking: bool) -> None:
    temperature, top_p, top_k = request.temperature, request.top_p, request.top_k
    if not same:
        if thinking:
            temperature = temperature if temperature == 1 else None
            top_p = top_p if top_p is not None and top_p >= 0.95 else None
            top_k = None
        if temperature is not None:
            top_p = None
    optional = {"temperature": temperature, "top_p": top_p, "top_k": top_k, "stop_sequences": request.stop}
    body.update((k, v) for k, v in optional.items() if v is not None)


def encode_request(request: ChatRequest) -> dict[str, Any]:
    """The body to POST to Anthropic's ``/v1/messages``."""
    same = request.source_protocol == PROTOCOL
    body: dict[str, Any] = dict(request.extra) if same else {}
    side = SideReader(body.pop(SIDE_KEY, None)) if same else EMPTY
    system, messages = encode_messages(request.messages, ContentEncoder(side, upstream=True))
    if _json_mode(request.response_format):
        system.append({"type": "text", "text": JSON_MODE_INSTRUCTION})
    thinking, effort, max_tokens = thinking_for(request.reasoning, request.max_tokens, same=same, side=side)
    if thinking is not None and thinking["type"] != "disabled":
        forced = not same and request.tool_choice is not None and request.tool_choice.mode in ("required", "tool")
        if forced or _thinking_would_be_rejected(messages):
            thinking = None
    body["model"] = request.model
    body["max_tokens"] = max_tokens
    body["messages"] = messages
    if system:
        plain = len(system) == 1 and set(system[0]) == {"type", "text"}
        body["system"] = system[0]["text"] if plain else system
    if request.stream:
        body["stream"] = True
    if thinking is not None:
        body["thinking"] = thinking
    _sampling(request, body, same=same, thinking=thinking is not None and thinking["type"] != "disabled")
    metadata: dict[str, Any] = dict(request.metadata or {}) if same else {}
    if request.user is not None:
        metadata["user_id"] = request.user
    if metadata:
        body["metadata"] = metadata
    tools = encode_tools(request.tools, side, same=same)
    if tools:
        body["tools"] = tools
        choice = encode_tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    kept = side.get("output_config")
    output_config: dict[str, Any] = dict(kept) if isinstance(kept, dict) else {}
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema" and fmt.schema is not None:
        output_config["format"] = {"type": "json_schema", "schema": fmt.schema}
    if effort is not None:
        output_config["effort"] = effort
    if output_config:
        body["output_config"] = output_config
    return body
