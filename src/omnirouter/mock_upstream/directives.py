"""Scripting directives: the ``[[mock {...}]]`` syntax and the queue of scripted replies."""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Literal

import msgspec

_MARKER = "[[mock"
_DECODER = json.JSONDecoder()


class DirectiveError(ValueError):
    """A directive that cannot be parsed or has unknown keys or wrong types."""


class ToolCallSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One tool call the mock should make."""

    name: str
    arguments: dict[str, Any] = {}


class UsageSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Token counts that replace the computed ones (OpenAI semantics, see the package docs)."""

    input: int | None = None
    output: int | None = None
    cached: int | None = None
    reasoning: int | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None  # the part of cache_write with Anthropic's 1-hour TTL


class Directive(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the mock should answer; every key is optional."""

    text: str | None = None
    tool_calls: list[ToolCallSpec] = []
    reasoning: str | None = None
    refusal: bool | str | None = None
    block: bool | str | None = None
    finish: Literal["stop", "length"] | None = None
    fail: int | None = None
    message: str | None = None
    error_type: str | None = None
    code: str | None = None
    retry_after: float | None = None
    should_retry: bool | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    first_chunk_delay: float = 0.0
    hold_after: int | None = None
    cut_after: int | None = None
    error_after: int | None = None
    garbage: bool = False
    usage: UsageSpec | None = None
    chunks: int | None = None
    no_usage: bool = False
    trickle: float | None = None
    body_bytes: int | None = None
    unterminated_event_bytes: int | None = None
    body_error: bool | int | str | None = None
    media_bytes: int | None = None
    media_seconds: float | None = None
    pending_polls: int | None = None
    poll_delay: float = 0.0
    poll_faults: list[str | int] = []
    media_fetches: int | None = None
    media_ttl: float | None = None


EMPTY = Directive()


def directive(**fields: object) -> str:
    """The in-prompt text of a directive (``[[mock {...}]]``), for a prompt that scripts the mock's answer."""
    return f"{_MARKER} {json.dumps(fields)}]]"


def parse_directive(obj: object) -> Directive:
    """Validate a directive given as a JSON object."""
    if not isinstance(obj, dict):
        raise DirectiveError("a mock directive must be a JSON object")
    try:
        directive = msgspec.convert(obj, Directive)
    except msgspec.ValidationError as exc:
        raise DirectiveError(f"bad mock directive: {exc}") from None
    if directive.fail is not None and not 400 <= directive.fail <= 599:
        raise DirectiveError("bad mock directive: `fail` must be an HTTP status between 400 and 599")
    if directive.chunks is not None and directive.chunks < 1:
        raise DirectiveError("bad mock directive: `chunks` must be at least 1")
    if directive.trickle is not None and directive.trickle <= 0:
        raise DirectiveError("bad mock directive: `trickle` must be more than 0 bytes per second")
    for name in (
        "hold_after",
        "body_bytes",
        "unterminated_event_bytes",
        "media_bytes",
        "pending_polls",
        "media_fetches",
    ):
        value = getattr(directive, name)
        if value is not None and value < 0:
            raise DirectiveError(f"bad mock directive: `{name}` must not be negative")
    if directive.media_seconds is not None and not 0 < directive.media_seconds <= 3600:
        raise DirectiveError("bad mock directive: `media_seconds` must be more than 0 and at most 3600")
    for fault in directive.poll_faults:
        if isinstance(fault, int) and not 400 <= fault <= 599:
            raise DirectiveError("bad mock directive: a `poll_faults` status must be between 400 and 599")
        if isinstance(fault, str) and fault not in ("not_found", "unknown"):
            raise DirectiveError("bad mock directive: `poll_faults` items are not_found, unknown or an HTTP status")
    if directive.media_ttl is not None and directive.media_ttl < 0:
        raise DirectiveError("bad mock directive: `media_ttl` must not be negative")
    return directive


def extract(text: str) -> tuple[Directive | None, str]:
    """Find ``[[mock {...}]]`` in ``text``; return the directive (or None) and the text without it.

    Raises DirectiveError when the marker is present but its JSON is malformed.
    """
    start = text.find(_MARKER)
    if start < 0:
        return None, text
    brace = start + len(_MARKER)
    while brace < len(text) and text[brace].isspace():
        brace += 1
    try:
        obj, end = _DECODER.raw_decode(text, brace)
    except json.JSONDecodeError as exc:
        raise DirectiveError(f"bad mock directive JSON: {exc}") from None
    while end < len(text) and text[end].isspace():
        end += 1
    if not text.startswith("]]", end):
        raise DirectiveError("bad mock directive: expected `]]` after the JSON object")
    return parse_directive(obj), text[:start] + text[end + 2 :]


class ScriptQueue:
    """Directives queued through the control endpoint, each for a number of requests."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: deque[list[Any]] = deque()

    def push(self, directive: Directive, raw: dict[str, Any], times: int = 1) -> None:
        """Queue ``directive`` for the next ``times`` generation requests."""
        if times < 1:
            raise DirectiveError("`times` must be at least 1")
        self._entries.append([directive, raw, times])

    def pop(self) -> Directive | None:
        """Take the directive for one request, if any is queued."""
        if not self._entries:
            return None
        entry = self._entries[0]
        entry[2] -= 1
        if entry[2] <= 0:
            self._entries.popleft()
        directive: Directive = entry[0]
        return directive

    def clear(self) -> None:
        """Drop every queued directive."""
        self._entries.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        """The queue as JSON-able dicts."""
        return [{"directive": raw, "times": times} for _, raw, times in self._entries]

    def __len__(self) -> int:
        return len(self._entries)
