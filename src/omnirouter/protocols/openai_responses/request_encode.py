"""IR :class:`ChatRequest` → a Responses request body for an upstream.

* A leading ``system`` message of exactly one text becomes ``instructions``;
  other system and developer messages stay input messages with their role.
* Each assistant text becomes a ``message`` item with string content (decoding
  merges consecutive assistant items again); calls become ``function_call``
  items (flat namespace names split back when the request came from
  Responses); tool results ``function_call_output`` items (a string, or a list
  when there are several parts or images; ``is_error`` has no field and is
  dropped).  Audio has no place in Responses messages and is dropped.
* Reasoning of our own origin becomes a ``reasoning`` item with its summary and
  ``encrypted_content``, without ``id`` (stateless replay, as Codex does); an
  item without encrypted content is sent by ``id`` only when ``store`` is not
  false.  Reasoning of other origins and call signatures are dropped.
* When reasoning is asked for, ``include`` gets ``reasoning.encrypted_content``
  and ``store`` is ``false`` (unless a Responses client set ``store``), so the
  next turn can replay reasoning without server-side state.
* ``extra`` is written back only for Responses-sourced requests, without
  ``previous_response_id``: the gateway resolves it into the input itself.
  ``stop``, ``seed``, ``n``, ``top_k`` and the penalties have no Responses field
  and are dropped; ``metadata`` is sent for Responses-sourced requests only.
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import (
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)
from omnirouter.protocols.openai_responses._shared import PROTOCOL
from omnirouter.protocols.openai_responses.items import encode_input_part, is_content_part, summary_of
from omnirouter.protocols.openai_responses.options import (
    encode_format,
    encode_reasoning,
    encode_tool,
    encode_tool_choice,
    namespace_map,
    reasoning_requested,
)

_ENCRYPTED = "reasoning.encrypted_content"


def _tool_output(part: ToolResultPart) -> dict[str, Any]:
    content = part.content
    output: str | list[dict[str, Any]]
    if not content:
        output = ""
    elif len(content) == 1 and isinstance(content[0], TextPart):
        output = content[0].text
    else:
        encoded = (encode_input_part(p) for p in content)
        output = [p for p in encoded if p is not None]
    return {"type": "function_call_output", "call_id": part.call_id, "output": output}


class _Input:
    """Builds the ``input`` array."""

    def __init__(self, namespaces: dict[str, tuple[str, str]], store: Any) -> None:
        self.items: list[dict[str, Any]] = []
        self.namespaces = namespaces
        self.store_off = store is False

    def message(self, role: str, parts: list[Part]) -> None:
        if not parts:
            return
        if role == "assistant":
            texts = (p.text for p in parts if isinstance(p, TextPart))
            self.items.extend({"type": "message", "role": "assistant", "content": t} for t in texts)
            return
        encoded = (encode_input_part(p) for p in parts)
        content = [p for p in encoded if p is not None]
        if content:
            self.items.append({"type": "message", "role": role, "content": content})

    def reasoning(self, part: ReasoningPart) -> None:
        if part.origin != PROTOCOL:
            return
        item: dict[str, Any] = {"type": "reasoning", "summary": summary_of(part.text)}
        if part.signature:
            item["encrypted_content"] = part.signature
        elif part.id and not self.store_off:
            item["id"] = part.id
        else:
            return
        self.items.append(item)

    def call(self, part: ToolCallPart) -> None:
        item: dict[str, Any] = {
            "type": "function_call",
            "call_id": part.id,
            "name": part.name,
            "arguments": part.arguments or "{}",
        }
        split = self.namespaces.get(part.name)
        if split is not None:
            item["namespace"], item["name"] = split
        self.items.append(item)

    def add(self, message: Message) -> None:
        role = "user" if message.role == "tool" else message.role
        assistant = role == "assistant"
        results = [_tool_output(p) for p in message.content if isinstance(p, ToolResultPart)]
        if not assistant:
            self.items.extend(results)
        run: list[Part] = []
        for part in message.content:
            if isinstance(part, ToolResultPart):
                continue
            if _in_message(part, assistant):
                run.append(part)
                continue
            self.message(role, run)
            run = []
            if isinstance(part, ReasoningPart):
                self.reasoning(part)
            elif isinstance(part, ToolCallPart):
                self.call(part)
            elif isinstance(part, UnknownPart) and part.protocol == PROTOCOL and not is_content_part(part.data):
                self.items.append(part.data)
        self.message(role, run)
        if assistant:
            self.items.extend(results)


def _in_message(part: Part, assistant: bool) -> bool:
    """Whether ``part`` belongs in a message item (rather than being an item of its own)."""
    if isinstance(part, TextPart):
        return True
    if assistant:
        return False
    if isinstance(part, UnknownPart):
        return is_content_part(part.data)
    return isinstance(part, ImagePart | FilePart)


def _instructions(messages: list[Message]) -> tuple[str | None, list[Message]]:
    if messages and messages[0].role == "system":
        content = messages[0].content
        if len(content) == 1 and isinstance(content[0], TextPart) and content[0].text:
            return content[0].text, messages[1:]
    return None, messages


def encode_request(request: ChatRequest) -> dict[str, Any]:
    """The body to POST to a Responses ``/responses`` endpoint."""
    same = request.source_protocol == PROTOCOL
    body: dict[str, Any] = dict(request.extra) if same else {}
    extra_tools = body.pop("tools", None)
    extra_choice = body.pop("tool_choice", None)
    extra_text = body.pop("text", None)
    extra_reasoning = body.pop("reasoning", None)
    body.pop("previous_response_id", None)
    namespaces = namespace_map(extra_tools)
    wants_reasoning = reasoning_requested(request.reasoning)
    if wants_reasoning and "store" not in body:
        body["store"] = False
    if wants_reasoning:
        include = body.get("include")
        include = [v for v in include if v != _ENCRYPTED] if isinstance(include, list) else []
        body["include"] = [*include, _ENCRYPTED]
    instructions, messages = _instructions(request.messages)
    builder = _Input(namespaces, body.get("store"))
    for message in messages:
        builder.add(message)
    body["model"] = request.model
    if instructions is not None:
        body["instructions"] = instructions
    body["input"] = builder.items
    if request.stream:
        body["stream"] = True
    optional: dict[str, Any] = {
        "max_output_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "user": request.user,
        "metadata": request.metadata if same else None,
    }
    tools = [encode_tool(t) for t in request.tools or () if t.name not in namespaces]
    if isinstance(extra_tools, list):
        tools.extend(extra_tools)
    if tools:
        optional["tools"] = tools
        optional["parallel_tool_calls"] = request.parallel_tool_calls
        choice = request.tool_choice
        optional["tool_choice"] = encode_tool_choice(choice) if choice is not None else extra_choice
    text = dict(extra_text) if isinstance(extra_text, dict) else {}
    if request.response_format is not None:
        text["format"] = encode_format(request.response_format)
    reasoning = dict(extra_reasoning) if isinstance(extra_reasoning, dict) else {}
    if request.reasoning is not None:
        reasoning.update(encode_reasoning(request.reasoning))
    optional["text"] = text or None
    optional["reasoning"] = reasoning or None
    body.update((k, v) for k, v in optional.items() if v is not None)
    return body
