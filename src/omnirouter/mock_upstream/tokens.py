"""Deterministic token counting, text splitting and opaque values (signatures)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

_WORD = re.compile(r"\s*\S+(?:\s+\Z)?")

# Keys whose string values are not text the model reads (ids, binary data, signatures...).
_SKIP_KEYS = frozenset(
    {
        "role",
        "type",
        "id",
        "tool_call_id",
        "call_id",
        "tool_use_id",
        "signature",
        "thoughtSignature",
        "thought_signature",
        "encrypted_content",
        "data",
        "url",
        "image_url",
        "file_id",
        "fileUri",
        "file_uri",
        "mimeType",
        "mime_type",
        "media_type",
        "cache_control",
        "detail",
        "status",
    }
)


def count_input(value: Any) -> int:
    """Sum ``len(s) // 4 + 1`` over every text string inside ``value`` (ids and binary data skipped)."""
    total = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) // 4 + 1
        elif isinstance(item, dict):
            for key, sub in item.items():
                if key not in _SKIP_KEYS:
                    stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
    return total


def count_words(text: str) -> int:
    """Output tokens of a text: its number of whitespace-separated words."""
    return len(text.split())


def split_words(text: str) -> list[str]:
    """Split into word pieces that keep their leading whitespace; joined they give ``text`` back."""
    pieces: list[str] = _WORD.findall(text)
    if not pieces:
        return [text] if text else []
    return pieces


def split_n(text: str, n: int) -> list[str]:
    """Split into ``n`` nearly equal character slices (fewer if the text is shorter)."""
    if not text:
        return []
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    pieces: list[str] = []
    pos = 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        pieces.append(text[pos : pos + step])
        pos += step
    return pieces


def split_text(text: str, chunks: int | None) -> list[str]:
    """Stream pieces of a reply text: word by word, or ``chunks`` slices when asked."""
    if chunks is not None:
        return split_n(text, chunks)
    return split_words(text)


def split_arguments(arguments: str) -> list[str]:
    """Split tool-call argument JSON into several fragments (up to 4)."""
    return split_n(arguments, max(1, min(4, len(arguments) // 3)))


def signature(*parts: str) -> str:
    """A deterministic opaque base64 signature for reasoning or a tool call."""
    digest = hashlib.sha256("\x00".join(("omnirouter-mock", *parts)).encode()).digest()
    return base64.b64encode(b"mock-sig:" + digest).decode()
