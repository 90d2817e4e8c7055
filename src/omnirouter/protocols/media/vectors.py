"""Embedding vectors between their two wire forms: JSON floats and OpenAI's base64 of little-endian
float32 (the stdlib ``array`` packs them; ``sys.byteorder`` decides whether bytes are swapped).

An upstream's base64 string is checked (alphabet, padding, a whole number of float32) and kept as it
came, so a base64 answer to a base64 client is not decoded and encoded again (the embeddings hot path);
it is decoded only when floats are asked for."""

from __future__ import annotations

import base64
import sys
from array import array

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import Vector

__all__ = ["base64_size", "vector_base64", "vector_floats", "vector_from_wire", "vector_length"]

_SWAP = sys.byteorder != "little"
_NUMBER = {float, int}  # not bool
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def base64_size(value: str | bytes) -> int | None:
    """How many bytes a strict base64 string decodes to (None: not strict base64)."""
    if not value.isascii() or len(value) % 4:
        return None
    body = value.encode("ascii") if isinstance(value, str) else value
    pad = 2 if body.endswith(b"==") else 1 if body.endswith(b"=") else 0
    if body[: len(body) - pad].translate(None, _ALPHABET):
        return None  # a character outside the alphabet (or '=' before the end)
    return len(body) // 4 * 3 - pad


def vector_floats(vector: Vector) -> list[float]:
    """The vector as floats (float32 bytes widened as they are)."""
    if isinstance(vector, list):
        return vector
    values = array("f")
    values.frombytes(base64.b64decode(vector) if isinstance(vector, str) else vector)
    if _SWAP:
        values.byteswap()
    return values.tolist()


def vector_base64(vector: Vector) -> str:
    """The vector as OpenAI's base64 string (floats narrowed to float32 first)."""
    if isinstance(vector, str):
        return vector
    if isinstance(vector, bytes):
        return base64.b64encode(vector).decode("ascii")
    values = array("f", vector)
    if _SWAP:
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def vector_length(vector: Vector) -> int:
    """How many dimensions the vector has."""
    if isinstance(vector, str):
        return (base64_size(vector) or 0) // 4
    return len(vector) // 4 if isinstance(vector, bytes) else len(vector)


def vector_from_wire(value: object, vendor: str) -> Vector:
    """An ``embedding`` value from an upstream: a float list, or a base64 string of float32 bytes (kept as is)."""
    if isinstance(value, str):
        size = base64_size(value)
        if size is None or size % 4:
            raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned an embedding that is not base64 float32")
        return value
    if isinstance(value, list) and set(map(type, value)) <= _NUMBER:
        return value
    raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned an embedding that is not a list of numbers")
