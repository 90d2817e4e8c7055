"""Small helpers shared by the Anthropic request, response and stream modules."""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.common import new_id
from omnirouter.protocols.fields import Expected, Fields
from omnirouter.protocols.limits import Bounds

PROTOCOL = "anthropic"
"""The value of ``source_protocol`` and of reasoning origins for data this codec decoded."""

DEFAULT_MAX_TOKENS = 8192
"""``max_tokens`` sent upstream when the IR has none (Anthropic requires it)."""


def invalid(message: str, param: str | None) -> GatewayError:
    """A client error about one request field, worded like Anthropic's (``param: problem``)."""
    return GatewayError(ErrorKind.INVALID_REQUEST, f"{param}: {message}" if param else message, param=param)


def out_of_bounds(param: str, bounds: Bounds) -> GatewayError:
    """A numeric field outside its range, worded like Anthropic's errors."""
    return invalid(f"Input should be {bounds.describe()}", param)


def message_id(ir_id: str) -> str:
    """An Anthropic ``msg_…`` id for an IR answer id (kept when it already is one)."""
    if ir_id.startswith("msg_"):
        return ir_id
    return "msg_" + ir_id if ir_id else new_id("msg_")


_WORDS: dict[Expected, str] = {
    "string": "Input should be a valid string",
    "boolean": "Input should be a valid boolean",
    "object": "Input should be a valid dictionary",
    "required": "Field required",
}


def _wrong(expected: Expected, param: str) -> GatewayError:
    return invalid(_WORDS[expected], param)


FIELDS = Fields(_wrong)
"""The field readers (:mod:`..fields`) with Anthropic's wording: ``tools.0.name: Field required``."""

opt_str = FIELDS.opt_str
req_str = FIELDS.req_str
opt_bool = FIELDS.opt_bool
opt_dict = FIELDS.opt_dict


def dumps(value: Any) -> str:
    """Compact JSON text."""
    return orjson.dumps(value).decode()
