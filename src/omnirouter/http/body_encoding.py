"""Compressed request bodies (``Content-Encoding: gzip`` or ``deflate``), inflated under the body limit.

Inflation is incremental with a cap on the output of every step, so a small body that would inflate to
gigabytes (a zip bomb) is refused with 413 after at most ``limit + 1`` bytes of output, never inflated whole.
"""

from __future__ import annotations

import zlib

from omnirouter.ir import ErrorKind, GatewayError

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS
WBITS: dict[bytes, int] = {b"gzip": _GZIP, b"x-gzip": _GZIP, b"deflate": _ZLIB}


def too_large(limit: int, decoded: bool = False) -> GatewayError:
    """The 413 for a body over ``limit`` bytes."""
    suffix = " once decompressed" if decoded else ""
    return GatewayError(ErrorKind.REQUEST_TOO_LARGE, f"request body exceeds {limit} bytes{suffix}")


def unsupported(encoding: bytes) -> GatewayError:
    """The 415 for a ``Content-Encoding`` the gateway cannot decode."""
    name = encoding.decode("latin-1").strip()
    return GatewayError(
        ErrorKind.INVALID_REQUEST,
        f"Content-Encoding '{name}' is not supported; send the body uncompressed, gzip or deflate.",
        status=415,
    )


def _is_zlib_header(head: bytes) -> bool:
    """Whether ``head`` starts a zlib stream (RFC 1950); HTTP ``deflate`` should, some clients send raw deflate."""
    return head[0] & 0x0F == 8 and ((head[0] << 8) | head[1]) % 31 == 0


class Inflater:
    """Inflates one body chunk by chunk; raises 413 past ``limit`` output bytes, 400 on corrupt data."""

    def __init__(self, coding: bytes, limit: int) -> None:
        self._name = coding.decode("latin-1")
        self._wbits = WBITS[coding]
        self._limit = limit
        self._size = 0
        self._head = b""  # the first bytes, until there are enough to tell zlib from raw deflate
        self._decoder: zlib._Decompress | None = None
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        """Inflate ``chunk``, keeping the output."""
        if self._decoder is None:
            self._head += chunk
            if len(self._head) < 2:
                return
            if self._wbits == _ZLIB and not _is_zlib_header(self._head):
                self._wbits = _RAW
            self._decoder = zlib.decompressobj(self._wbits)
            chunk, self._head = self._head, b""
        try:
            self._inflate(self._decoder, chunk)
        except zlib.error:
            raise self._corrupt("is not valid") from None

    def _inflate(self, decoder: zlib._Decompress, data: bytes) -> None:
        while data:
            piece = decoder.decompress(data, self._limit + 1 - self._size)  # never 0 (unlimited): size <= limit
            self._size += len(piece)
            if self._size > self._limit:
                raise too_large(self._limit, decoded=True)
            self._parts.append(piece)
            if decoder.eof:  # a gzip body may hold several members one after the other
                data = decoder.unused_data
                if data:
                    decoder = self._decoder = zlib.decompressobj(self._wbits)
            else:
                data = decoder.unconsumed_tail

    def finish(self) -> bytes:
        """The whole inflated body; 400 when the compressed data stops short."""
        if self._decoder is None:
            if self._head:
                raise self._corrupt("is not valid")
            return b""
        if not self._decoder.eof:
            raise self._corrupt("is truncated")
        return b"".join(self._parts)

    def _corrupt(self, what: str) -> GatewayError:
        return GatewayError(ErrorKind.INVALID_REQUEST, f"The request body {what} {self._name} data.")
