"""Embedding vectors between their two wire forms: JSON floats and OpenAI's base64 of little-endian
float32 (the stdlib ``array`` packs them; ``sys.byteorder`` decides whether bytes are swapped)."""

from __future__ import annotations

import base64
import binascii
import sys
from array import array

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import Vector

__all__ = ["vector_base64", "vector_floats", "vector_from_wire", "vector_length"]

_SWAP = sys.byteorder != "little"


def vector_floats(vector: Vector) -> list[float]:
    """The vector as floats (float32 bytes widened as they are)."""
    if isinstance(vector, list):
        return vector
    values = array("f")
    values.frombytes(vector)
    if _SWAP:
        values.byteswap()
    return values.tolist()


def vector_base64(vector: Vector) -> str:
    """The vector as OpenAI's base64 string (floats narrowed to float32 first)."""
    if isinstance(vector, bytes):
        return base64.b64encode(vector).decode("ascii")
    values = array("f", vector)
    if _SWAP:
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def vector_length(vector: Vector) -> int:
    """How many dimensions the vector has."""
    return len(vector) // 4 if isinstance(vector, bytes) else len(vector)


def vector_from_wire(value: object, vendor: str) -> Vector:
    """An ``embedding`` value from an upstream: a float list, or a base64 string of float32 bytes."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b"\x00"  # not base64: refused below
        if len(raw) % 4:
            raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned an embedding that is not base64 float32")
        return raw
    if isinstance(value, list) and all(type(x) is float or type(x) is int for x in value):
        return value
    raise GatewayError(ErrorKind.UPSTREAM, f"{vendor} returned an embedding that is not a list of numbers")
