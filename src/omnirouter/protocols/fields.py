"""Optional typed fields of a client's JSON body, read the same way by every codec.

A reader returns the value when it has the wanted JSON type, ``None`` when it is
absent or null, and raises a 400 naming ``param`` otherwise.  Each protocol words
that 400 its own way: a :class:`Fields` holds the wording.  OpenAI Chat, Responses
and Gemini say ``'tools[0].name' must be a string`` (:data:`FIELDS`, whose readers
are also this module's ``opt_*`` functions); Anthropic makes its own ``Fields``.
Numbers are read with their ranges by :func:`..limits.number_field`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from omnirouter.ir import ErrorKind, GatewayError

Expected = Literal["string", "boolean", "object", "required"]
"""What a field should have been (``required``: present and not null, for :meth:`Fields.req_str`)."""

Wording = Callable[[Expected, str], GatewayError]
"""The 400 for a field ``param`` that is not what was ``expected``."""

_OPENAI_WORDS: dict[Expected, str] = {
    "string": "must be a string",
    "boolean": "must be a boolean",
    "object": "must be an object",
    "required": "is required",
}


def must_be(expected: Expected, param: str) -> GatewayError:
    """OpenAI's wording: ``'param' must be a string``."""
    return GatewayError(ErrorKind.INVALID_REQUEST, f"'{param}' {_OPENAI_WORDS[expected]}", param=param)


class Fields:
    """The optional-field readers of one protocol, raising its wording of a wrong type."""

    __slots__ = ("wrong",)

    def __init__(self, wrong: Wording = must_be) -> None:
        self.wrong = wrong

    def string(self, value: Any, param: str) -> str | None:
        """``value`` as a string, ``None`` when null."""
        if value is None or isinstance(value, str):
            return value
        raise self.wrong("string", param)

    def boolean(self, value: Any, param: str) -> bool | None:
        """``value`` as a boolean, ``None`` when null."""
        if value is None or isinstance(value, bool):
            return value
        raise self.wrong("boolean", param)

    def object(self, value: Any, param: str) -> dict[str, Any] | None:
        """``value`` as an object, ``None`` when null."""
        if value is None or isinstance(value, dict):
            return value
        raise self.wrong("object", param)

    # The members below repeat the checks above instead of calling them: they run for many
    # fields of every request, and a call costs more than the check.

    def opt_str(self, obj: dict[str, Any], key: str, param: str) -> str | None:
        """``obj[key]`` as a string, ``None`` when absent or null."""
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self.wrong("string", param)

    def req_str(self, obj: dict[str, Any], key: str, param: str) -> str:
        """``obj[key]`` as a string (``""`` included); absent or null is a 400 too."""
        value = obj.get(key)
        if isinstance(value, str):
            return value
        raise self.wrong("required" if value is None else "string", param)

    def opt_bool(self, obj: dict[str, Any], key: str, param: str) -> bool | None:
        """``obj[key]`` as a boolean, ``None`` when absent or null."""
        value = obj.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise self.wrong("boolean", param)

    def opt_dict(self, obj: dict[str, Any], key: str, param: str) -> dict[str, Any] | None:
        """``obj[key]`` as an object, ``None`` when absent or null."""
        value = obj.get(key)
        if value is None or isinstance(value, dict):
            return value
        raise self.wrong("object", param)


FIELDS = Fields()
"""The readers with OpenAI's wording (OpenAI Chat, Responses and Gemini use it)."""

opt_str = FIELDS.opt_str
opt_bool = FIELDS.opt_bool
opt_dict = FIELDS.opt_dict
