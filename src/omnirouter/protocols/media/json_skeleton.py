"""A JSON answer's skeleton, read incrementally as its bytes pass through: the same document with every
long string value emptied, so that an answer of many megabytes of base64 (an ImagesResponse) leaves a
few hundred bytes to parse for its usage, sizes and item count.

The scanner keeps only the skeleton (strings up to ``KEEP`` bytes whole, longer ones as ``""``; no
whitespace) and notes the kind of each item of a top-level array (the first string-valued key of
``WATCHED`` in each object of it, e.g. ``data[i].b64_json``).  It jumps through strings with ``bytes.find``
(memchr), so 20 MB of base64 costs a few milliseconds.  It checks structure only as far as it
needs (brackets balance); the skeleton is parsed as JSON at the end.
"""

from __future__ import annotations

from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["KEEP", "MAX_SKELETON", "JsonSkeleton"]

KEEP = 4096
"""Strings longer than this (bytes, as on the wire) are emptied in the skeleton."""
MAX_SKELETON = 256 * 1024
"""The most skeleton kept: an answer with more structure than this is an upstream error."""

_SPACE = frozenset(b" \t\r\n")


class JsonSkeleton:
    """Feed an answer's bytes in order; ``skeleton`` is the emptied document, ``kinds`` the item kinds."""

    __slots__ = ("_buffer", "_escape", "_expect_key", "_in_string", "_is_key", "_items", "_keys", "_length",
                 "_out", "_stack", "array", "kinds", "top_keys", "watched")  # fmt: skip

    def __init__(self, array: str, watched: tuple[str, ...]) -> None:
        self.array = array.encode()
        self.watched = frozenset(key.encode() for key in watched)
        self.kinds: list[str] = []
        """Per item of the top-level ``array``: its first watched string-valued key."""
        self.top_keys: list[str] = []
        """The top-level object's keys, in order, as far as read."""
        self._out = bytearray()
        self._stack: list[int] = []  # 0x7B object / 0x5B array
        self._keys: list[bytes] = []  # per open container: the current key (objects) or b"" (arrays)
        self._expect_key = False
        self._in_string = False
        self._is_key = False
        self._escape = False
        self._buffer = bytearray()
        self._length = 0
        self._items = 0  # objects opened in the top-level array

    @property
    def skeleton(self) -> bytes:
        return bytes(self._out)

    @property
    def complete(self) -> bool:
        """The top-level value has closed."""
        return bool(self._out) and not self._stack and not self._in_string

    def feed(self, chunk: bytes) -> None:
        """Scan ``chunk``; raises an upstream ``GatewayError`` for a skeleton past ``MAX_SKELETON``."""
        position, size = 0, len(chunk)
        while position < size:
            position = self._string(chunk, position) if self._in_string else self._structure(chunk, position)
        if len(self._out) > MAX_SKELETON:
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream's answer has more structure than expected")

    def _string(self, chunk: bytes, position: int) -> int:
        size = len(chunk)
        if self._escape:  # the byte after a backslash that ended the previous chunk
            self._escape = False
            self._take(chunk, position, position + 1)
            return position + 1
        quote = chunk.find(b'"', position)
        end = size if quote < 0 else quote
        backslash = chunk.find(b"\\", position, end)
        if backslash >= 0:
            self._take(chunk, position, backslash + 2)
            if backslash + 1 < size:
                return backslash + 2
            self._escape = True
            return size
        self._take(chunk, position, end)
        if quote < 0:
            return size
        self._end_string()
        return quote + 1

    def _take(self, chunk: bytes, start: int, stop: int) -> None:
        """Bytes ``start:stop`` of ``chunk`` belong to the current string (kept while it is short)."""
        self._length += stop - start
        if self._length <= KEEP:
            self._buffer += chunk[start:stop]
        elif self._buffer:
            self._buffer.clear()

    def _end_string(self) -> None:
        self._in_string = False
        text = bytes(self._buffer) if self._length <= KEEP else b""
        self._buffer.clear()
        self._out += b'"' + text + b'"'
        if self._is_key:
            self._keys[-1] = text
            if len(self._stack) == 1:
                self.top_keys.append(text.decode(errors="replace"))
            return

    def _structure(self, chunk: bytes, position: int) -> int:
        quote = chunk.find(b'"', position)
        end = len(chunk) if quote < 0 else quote
        out, stack, keys = self._out, self._stack, self._keys
        for byte in chunk[position:end]:
            if byte in _SPACE:
                continue
            out.append(byte)
            if byte == 0x7B or byte == 0x5B:
                stack.append(byte)
                keys.append(b"")
                self._expect_key = byte == 0x7B
                if byte == 0x7B and len(stack) == 3 and stack[1] == 0x5B and keys[0] == self.array:
                    self._items += 1
            elif byte == 0x7D or byte == 0x5D:
                if not stack:
                    raise GatewayError(ErrorKind.UPSTREAM, "the upstream's answer is not valid JSON")
                stack.pop()
                keys.pop()
                self._expect_key = False
            elif byte == 0x2C:
                self._expect_key = bool(stack) and stack[-1] == 0x7B
            elif byte == 0x3A:
                self._expect_key = False
        if quote < 0:
            return len(chunk)
        self._in_string = True
        self._is_key = self._expect_key
        self._length = 0
        if not self._is_key and len(stack) == 3 and stack[1] == 0x5B and keys[0] == self.array:
            key = keys[2]  # a string value starts in an item of the array: its kind is known already
            if key in self.watched and len(self.kinds) < self._items:
                self.kinds.append(key.decode())
        return quote + 1
