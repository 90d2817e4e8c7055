"""Token estimates for when no tokenizer or upstream count is at hand (about four characters a token)."""

from __future__ import annotations

import orjson

from omnirouter.ir import ChatRequest, ImagePart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart

_PER_MESSAGE = 4
_PER_IMAGE = 258


def _chars(text: str) -> int:
    return (len(text) + 3) // 4


def estimate_input_tokens(request: ChatRequest) -> int:
    """A rough count of the prompt tokens of ``request`` (text, tool calls and results, tools, images)."""
    total = 0
    for message in request.messages:
        total += _PER_MESSAGE
        for part in message.content:
            if isinstance(part, TextPart | ReasoningPart):
                total += _chars(part.text)
            elif isinstance(part, ToolCallPart):
                total += _chars(part.name) + _chars(part.arguments)
            elif isinstance(part, ToolResultPart):
                total += sum(_chars(p.text) if isinstance(p, TextPart) else _PER_IMAGE for p in part.content)
            elif isinstance(part, ImagePart):
                total += _PER_IMAGE
    for tool in request.tools or ():
        total += _chars(tool.name) + _chars(tool.description or "") + _chars(orjson.dumps(tool.parameters).decode())
    return max(total, 1)
