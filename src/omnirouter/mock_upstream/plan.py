"""The protocol-neutral reply: what to say, which tools to call, how to stop, what usage to report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from omnirouter.mock_upstream.directives import EMPTY, Directive
from omnirouter.mock_upstream.tokens import count_words, signature, split_text, split_words

DEFAULT_TEXT = "Hello from mock"
DEFAULT_REASONING = "Let me think about this request step by step."
DEFAULT_REFUSAL = "I'm sorry, but I can't help with that."

Finish = Literal["stop", "length", "tool_calls", "refusal", "content_filter"]


@dataclass(slots=True)
class ToolCall:
    """One tool call of the reply; ``id`` is set by each protocol (own prefix)."""

    index: int
    name: str
    arguments: dict[str, Any]
    arguments_json: str
    id: str = ""


@dataclass(slots=True)
class Usage:
    """Token counts with OpenAI semantics: ``input`` includes cached, ``output`` includes reasoning."""

    input: int
    output: int
    reasoning: int = 0
    cached: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0  # the part of cache_write with Anthropic's 1-hour TTL

    @property
    def visible_output(self) -> int:
        """Output tokens without reasoning (Gemini's candidatesTokenCount)."""
        return max(0, self.output - self.reasoning)

    @property
    def total(self) -> int:
        """Input plus output."""
        return self.input + self.output


@dataclass(slots=True)
class Plan:
    """Everything a protocol encoder needs to write the reply."""

    model: str
    serial: int
    directive: Directive
    text: str
    pieces: list[str]
    tool_calls: list[ToolCall]
    reasoning: str | None
    reasoning_pieces: list[str]
    reasoning_signature: str | None
    refusal: str | None
    blocked: str | None
    finish: Finish
    usage: Usage
    extra: dict[str, Any] = field(default_factory=dict)


def build_plan(
    directive: Directive | None,
    user_text: str,
    *,
    model: str,
    serial: int,
    input_tokens: int,
    max_tokens: int | None = None,
    thinking: bool = False,
) -> Plan:
    """Decide the reply for one request from its directive (if any) and the user's text."""
    d = directive or EMPTY
    refusal: str | None = None
    blocked: str | None = None
    calls: list[ToolCall] = []
    text = ""
    if d.block:
        blocked = d.block if isinstance(d.block, str) else "SAFETY"
    elif d.refusal:
        refusal = d.refusal if isinstance(d.refusal, str) else (d.text or DEFAULT_REFUSAL)
    else:
        if d.text is not None:
            text = d.text
        elif not d.tool_calls:
            text = f"Echo: {user_text}" if user_text else DEFAULT_TEXT
        for i, spec in enumerate(d.tool_calls):
            args_json = orjson.dumps(spec.arguments).decode()
            calls.append(ToolCall(index=i, name=spec.name, arguments=spec.arguments, arguments_json=args_json))

    if d.body_bytes and blocked is None and refusal is None:
        text = pad(text, d.body_bytes)
    reasoning = d.reasoning if d.reasoning is not None else (DEFAULT_REASONING if thinking else None)
    if blocked is not None:
        reasoning = None

    finish: Finish = "tool_calls" if calls else "stop"
    if refusal is not None:
        finish = "refusal"
    elif blocked is not None:
        finish = "content_filter"
    if max_tokens is not None and max_tokens > 0 and not calls and text:
        words = split_words(text)
        if len(words) > max_tokens:
            text = "".join(words[:max_tokens])
            finish = "length"
    if d.finish == "length":
        finish = "length"
    elif d.finish == "stop" and blocked is None and refusal is None:
        finish = "stop"

    reasoning_tokens = count_words(reasoning) if reasoning else 0
    output = count_words(text) + reasoning_tokens
    output += sum(count_words(f"{c.name} {c.arguments_json}") for c in calls)
    if refusal:
        output += count_words(refusal)
    usage = Usage(input=input_tokens, output=output, reasoning=reasoning_tokens)
    if d.usage is not None:
        u = d.usage
        usage.input = u.input if u.input is not None else usage.input
        usage.output = u.output if u.output is not None else usage.output
        usage.reasoning = u.reasoning if u.reasoning is not None else usage.reasoning
        usage.cached = u.cached if u.cached is not None else 0
        usage.cache_write = u.cache_write if u.cache_write is not None else 0
        usage.cache_write_1h = min(u.cache_write_1h or 0, usage.cache_write)

    return Plan(
        model=model,
        serial=serial,
        directive=d,
        text=text,
        pieces=split_text(text, d.chunks),
        tool_calls=calls,
        reasoning=reasoning,
        reasoning_pieces=split_text(reasoning, d.chunks) if reasoning else [],
        reasoning_signature=signature(reasoning) if reasoning else None,
        refusal=refusal,
        blocked=blocked,
        finish=finish,
        usage=usage,
    )


def pad(text: str, size: int) -> str:
    """``text`` and one long word after it, ``size`` characters in all (``text`` as is when already that long)."""
    missing = size - len(text) - 1
    return f"{text} {'x' * missing}" if missing > 0 else text
