"""An OpenAI embeddings answer relayed to an OpenAI client as the upstream wrote it: checked, its
``model`` renamed, its ``usage`` read, and its vectors never parsed into numbers nor written again.

Parsing the ~250 KB of JSON numbers of 8 float vectors (1536 dimensions) and writing them again cost
the gateway ~1 ms a request; this costs a few scans of the bytes (``find``, ``in``) and the parse of a
skeleton of a few hundred bytes.  What is checked:

* each ``"embedding"`` member is cut out of the text: a float vector (``[...]``) must hold no element
  of another JSON type (no quote, brace, bracket, nor the letters of ``true``, ``false``, ``null``,
  ``NaN``, ``Infinity``) and not be empty; a base64 one (``"..."``) must be strict base64 of a whole
  number of float32, all of one answer's of the same length;
* the rest (the skeleton, each vector left empty) is parsed as JSON: an object whose ``data`` holds
  one item per input, the item at position *i* with ``index`` *i* and a vector in the encoding asked.

A malformed number in a float vector (``1.2.3``, ``[1,,2]``), or float vectors of different lengths,
are not caught (checking each number costs as much as parsing it; even counting them costs ten times
the checks above): the vectors are the vendor's and reach the client as sent.  Any answer this does
not take as it is (another encoding than asked, items out of order, no ``model``, a member written
oddly, or no embeddings answer at all) is left to the ordinary parse (``None``), which converts it
or refuses it (an upstream error: the attempt fails over).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from omnirouter.protocols.media.vectors import base64_size

__all__ = ["Skeleton", "pass_embeddings"]

_KEY = b'"embedding"'
_MODEL = b'"model"'
_SPACE = b" \t\r\n"
_NOT_NUMBER = (b'"', b"{", b"[", b"u", b"l", b"a", b"I")
"""A string, an object, an array, ``true``/``null`` (u), ``false``/``null`` (l), ``NaN`` and ``Infinity``."""


class Skeleton(NamedTuple):
    """The answer's text with the public model in it, and the answer without its vectors (parsed)."""

    body: bytes
    parsed: dict[str, Any]


def _skip(body: bytes, at: int) -> int:
    size = len(body)
    while at < size and body[at] in _SPACE:
        at += 1
    return at


def _float_length(span: bytes) -> int | None:
    """0 for a float vector's inside that holds no element of another JSON type, else None (not empty, no
    comma first or last).  One ``memchr`` a character: counting its numbers would cost ten times more."""
    ends = span.strip(_SPACE)
    if not ends or ends[0] == 0x2C or ends[-1] == 0x2C or any(mark in span for mark in _NOT_NUMBER):
        return None
    return 0


def _base64_length(span: bytes) -> int | None:
    size = base64_size(span)
    return None if size is None or size % 4 else size // 4


def _cut_vectors(body: bytes, encoding: str) -> tuple[bytes, int] | None:
    """The skeleton's text and how many vectors were cut from it, when every vector is in ``encoding``,
    well formed and of one length."""
    parts: list[bytes] = []
    start = search = count = 0
    length = -1
    closer, measure = (b"]", _float_length) if encoding == "float" else (b'"', _base64_length)
    opening = 0x5B if encoding == "float" else 0x22  # '[' or '"'
    find = body.find
    while (at := find(_KEY, search)) >= 0:
        search = at + len(_KEY)
        colon = _skip(body, search)
        if colon >= len(body) or body[colon] != 0x3A:
            continue  # "embedding" as a value ("object": "embedding")
        opener = _skip(body, colon + 1)
        if opener >= len(body) or body[opener] != opening:
            return None
        close = find(closer, opener + 1)
        if close < 0:
            return None
        size = measure(body[opener + 1 : close])
        if size is None or (length >= 0 and size != length):
            return None
        length = size
        parts.append(body[start : opener + 1])
        start = search = close
        count += 1
    parts.append(body[start:])
    return b"".join(parts), count


def _renamed(body: bytes, current: str, public_model: str) -> bytes | None:
    """``body`` with its one ``"model"`` member naming ``public_model``; None when it is not written plainly."""
    if current == public_model:
        return body
    at = body.rfind(_MODEL)  # the answer's tail in OpenAI's order
    colon = _skip(body, at + len(_MODEL))
    if colon >= len(body) or body[colon] != 0x3A:
        return None
    value = _skip(body, colon + 1)
    written = orjson.dumps(current)
    if not body.startswith(written, value):
        return None
    view = memoryview(body)  # one copy of the answer, not three
    return b"".join((view[:value], orjson.dumps(public_model), view[value + len(written) :]))


def pass_embeddings(body: bytes, inputs: int, encoding: str, public_model: str) -> Skeleton | None:
    """The upstream's ``body`` checked and renamed for the client, or None when it is not certainly a
    well-formed answer in the client's encoding (the ordinary parse then reads it, or refuses it)."""
    cut = _cut_vectors(body, encoding)
    if cut is None or cut[1] != inputs:
        return None
    text = cut[0]
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict):
        return None
    data = parsed.get("data")
    if not isinstance(data, list) or len(data) != inputs:
        return None
    empty: object = [] if encoding == "float" else ""
    for position, item in enumerate(data):
        if not isinstance(item, dict) or item.get("embedding") != empty:
            return None
        index = item.get("index")
        if type(index) is not int or index != position:
            return None
    model = parsed.get("model")
    if not isinstance(model, str) or text.count(_MODEL) != 1:
        return None
    renamed = _renamed(body, model, public_model)
    return None if renamed is None else Skeleton(renamed, parsed)
