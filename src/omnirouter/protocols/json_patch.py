"""Byte-level edits of JSON text, for relaying chunks without parsing and re-serialising them."""

from __future__ import annotations

from typing import Any

import orjson


def _skip_spaces(data: bytes, index: int) -> int:
    length = len(data)
    while index < length and data[index] in b" \t\r\n":
        index += 1
    return index


def replace_string_field(data: bytes, key: bytes, value: bytes) -> bytes:
    """Replace the value of the first ``"key": "..."`` member with the JSON string ``value``.

    ``key`` is the bare key (``b"model"``); ``value`` is already a JSON string
    literal including its quotes.  Inside JSON strings quotes are escaped, so
    the first unescaped ``"key"`` followed by ``:`` is a real member.  Returns
    ``data`` unchanged when there is no such string member.
    """
    needle = b'"' + key + b'"'
    start = 0
    while True:
        at = data.find(needle, start)
        if at < 0:
            return data
        start = at + len(needle)
        if at > 0 and data[at - 1] == 0x5C:  # an escaped quote: inside a string
            continue
        colon = _skip_spaces(data, start)
        if colon >= len(data) or data[colon] != 0x3A:
            continue
        open_quote = _skip_spaces(data, colon + 1)
        if open_quote >= len(data) or data[open_quote] != 0x22:
            return data
        index = open_quote + 1
        length = len(data)
        while index < length:
            byte = data[index]
            if byte == 0x5C:
                index += 2
                continue
            if byte == 0x22:
                return data[:open_quote] + value + data[index + 1 :]
            index += 1
        return data


def with_top_level_string(raw: bytes | None, parsed: dict[str, Any], key: str, value: str) -> bytes | None:
    """``raw`` (the JSON text ``parsed`` was read from) with the top-level string member ``key`` set to
    ``value``, when a plain bytes edit is certainly right; ``None`` when the caller must re-serialise.

    Certain means: ``raw`` holds the token ``"key"`` exactly once (so it is the top-level member's
    key: quotes inside strings are escaped, and a second occurrence anywhere makes us give up) and
    that member is written ``"key":<value>`` exactly as orjson writes it.  Bodies of 100 KB cost
    tens of microseconds to re-serialise; this costs two scans.
    """
    if raw is None:
        return None
    current = parsed.get(key)
    if current == value:
        return raw
    if not isinstance(current, str):
        return None
    token = b'"' + key.encode() + b'"'
    member = token + b":" + orjson.dumps(current)
    if raw.count(token) != 1 or member not in raw:
        return None
    return raw.replace(member, token + b":" + orjson.dumps(value), 1)


def set_top_level_string(raw: bytes | None, parsed: dict[str, Any], key: str, value: str) -> bytes:
    """The JSON text of ``parsed`` with ``key`` set to ``value``: ``raw`` edited in place when that is
    certainly right (``with_top_level_string``), else ``parsed`` re-serialised (``parsed`` is not changed)."""
    edited = with_top_level_string(raw, parsed, key, value)
    return edited if edited is not None else orjson.dumps({**parsed, key: value})


def with_first_member(raw: bytes, member: bytes) -> bytes | None:
    """``raw``, a JSON object without ``member``'s key, with ``member`` put first (``None``: not an object)."""
    body = raw.lstrip()
    if not body.startswith(b"{"):
        return None
    rest = body[1:].lstrip()
    return b"{" + member + (b"}" if rest.startswith(b"}") else b"," + rest)
