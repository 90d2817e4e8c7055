"""What every pass-through adapter does to an upstream's answer: put the public model name in it and
read its usage, touching the bytes as little as possible.

Each protocol states only its facts in one :class:`AnswerFacts` (which member names the model,
which one carries usage and how that is read, what a well-formed answer has); the mechanics are
here, once:

* :meth:`AnswerFacts.rewrite` — a whole JSON answer: parsed once (a 502 when it is not JSON or not
  an answer), the model member edited in place when that is certainly right
  (:func:`..json_patch.set_top_level_string`) or the answer re-serialised, and its usage read;
* :meth:`AnswerFacts.usage_of` — the usage of a parsed answer or stream chunk;
* :class:`ChunkModel` (from :meth:`AnswerFacts.renamer`) — the model member of stream chunks
  renamed at the byte level, without parsing: once the upstream's own member (``"model":"gpt-4o"``,
  spaced as the upstream spaces it) has been seen, each later chunk is one ``bytes.replace``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.protocols.json_patch import replace_string_field, set_top_level_string


class ChunkModel:
    """Puts one public model name into the stream chunks of one stream (stateful: one per stream)."""

    __slots__ = ("_key", "_pattern", "_public", "_upstream", "json", "name")

    def __init__(self, key: bytes, pattern: re.Pattern[bytes], public_model: str) -> None:
        self.name = public_model
        self.json = orjson.dumps(public_model)
        """The public name as a JSON string literal."""
        self._key = key
        self._pattern = pattern
        self._upstream = b""  # the upstream's model member as it writes it, once seen ...
        self._public = b""  # ... and the same member naming the public model

    def rename(self, data: bytes) -> bytes:
        """``data`` (one chunk's JSON text) with its first model member naming the public model."""
        known = self._upstream
        if known and known in data:
            return data if known == self._public else data.replace(known, self._public, 1)
        found = self._pattern.search(data)
        if found is not None:
            self._upstream, self._public = found.group(0), found.group(1) + self.json
        return replace_string_field(data, self._key, self.json)


class AnswerFacts:
    """Where one protocol's answers name the model and carry usage, and what makes a body an answer."""

    __slots__ = ("_is_answer", "_key", "_pattern", "_read_usage", "model_key", "usage_key")

    def __init__(
        self,
        *,
        model_key: str,
        usage_key: str,
        read_usage: Callable[[dict[str, Any]], Usage],
        is_answer: Callable[[dict[str, Any]], bool],
    ) -> None:
        self.model_key = model_key
        self.usage_key = usage_key
        self._read_usage = read_usage
        self._is_answer = is_answer
        self._key = model_key.encode()
        self._pattern = re.compile(b"(" + re.escape(b'"' + self._key + b'"') + rb'[ \t\r\n]*:[ \t\r\n]*)"[^"\\]*"')

    def usage_of(self, answer: dict[str, Any]) -> Usage | None:
        """The usage an answer (or stream chunk) reports, ``None`` when it has none."""
        usage = answer.get(self.usage_key)
        return self._read_usage(usage) if isinstance(usage, dict) else None

    def rewrite(self, body: bytes, public_model: str) -> tuple[bytes, Usage | None]:
        """An upstream's JSON answer with ``public_model`` in it, and its usage; a 502 when it is no answer."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise GatewayError(ErrorKind.UPSTREAM, "upstream returned a response that is not JSON") from None
        if not isinstance(parsed, dict) or not self._is_answer(parsed):
            raise GatewayError(ErrorKind.UPSTREAM, "upstream returned an unexpected response shape")
        return set_top_level_string(body, parsed, self.model_key, public_model), self.usage_of(parsed)

    def renamer(self, public_model: str) -> ChunkModel:
        """A byte-level renamer of this protocol's model member for one stream."""
        return ChunkModel(self._key, self._pattern, public_model)
