"""Embedding vectors between their wire forms: an upstream's base64 kept as it came, checked strictly."""

from __future__ import annotations

import base64
import struct

import pytest

from omnirouter.ir import GatewayError
from omnirouter.protocols.media.vectors import vector_base64, vector_floats, vector_from_wire, vector_length

FLOATS = [0.25, -1.5, 3.0, 0.125, -0.0625]
WIRE = base64.b64encode(struct.pack("<5f", *FLOATS)).decode()


def test_base64_is_kept_as_it_came_and_decodes_to_its_floats() -> None:
    vector = vector_from_wire(WIRE, "the upstream")
    assert vector_base64(vector) == WIRE
    assert vector_floats(vector) == FLOATS
    assert vector_length(vector) == 5


def test_floats_become_little_endian_float32_base64() -> None:
    vector = vector_from_wire(FLOATS, "the upstream")
    assert base64.b64decode(vector_base64(vector)) == struct.pack("<5f", *FLOATS)
    assert vector_length(vector) == 5


@pytest.mark.parametrize(
    "bad",
    [
        base64.b64encode(struct.pack("<5f", *FLOATS)[:18]).decode(),  # not a whole number of float32
        WIRE.replace("A", "-", 1) if "A" in WIRE else "-" + WIRE[1:],  # outside the alphabet
        WIRE[:4] + "=" + WIRE[5:],  # padding before the end
        WIRE + "=",  # length not a multiple of 4
        WIRE[:8] + "\n" + WIRE[9:],  # a newline inside
        base64.b64encode(b"abc").decode(),  # 3 bytes
        [1.0, True],  # a bool is not a number here
        [1.0, "2"],
        {"values": [1.0]},
    ],
)
def test_an_embedding_that_is_not_float32_is_refused(bad: object) -> None:
    with pytest.raises(GatewayError, match="embedding that is not"):
        vector_from_wire(bad, "the upstream")
