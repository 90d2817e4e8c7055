"""Byte-level edits of JSON text, for relaying chunks without parsing and re-serialising them."""

from __future__ import annotations


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
