"""What the ``*_repo`` modules share: their errors, money and time conversions, JSON columns.

Money crosses the admin API and the CLI in US dollars (a number or a decimal string) and is stored as
integer nano-USD (1 USD = 10⁹ nano), so sums in the database are exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson

__all__ = [
    "NANO_PER_USD",
    "Conflict",
    "Invalid",
    "NotFound",
    "RepoError",
    "as_utc",
    "dump_json",
    "load_json_list",
    "load_json_object",
    "nano_to_usd",
    "usd_to_nano",
]

NANO_PER_USD = 1_000_000_000


class RepoError(Exception):
    """A refused write or lookup: a message for people, a machine ``code`` and the field it is about."""

    def __init__(self, message: str, *, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


class NotFound(RepoError):
    """No such object (the admin API answers 404)."""


class Conflict(RepoError):
    """The object exists, is owned by the config file, or is in use (409)."""


class Invalid(RepoError):
    """A value is wrong (400); ``param`` names the field."""


def usd_to_nano(value: float | str, field: str) -> int:
    """US dollars (a number or a decimal string) as integer nano-USD; negative or non-numbers are ``Invalid``."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise Invalid(
            f"'{field}' must be a non-negative amount of US dollars, e.g. 5 or \"12.50\"; got {value!r}.",
            code="invalid_amount",
            param=field,
        )
    nano = int((amount * NANO_PER_USD).to_integral_value(ROUND_HALF_UP))
    if nano >= 2**63:
        raise Invalid(f"'{field}' is too large.", code="invalid_amount", param=field)
    return nano


def nano_to_usd(nano: int | None) -> float | None:
    """Integer nano-USD as US dollars (``None`` stays ``None``)."""
    return None if nano is None else round(nano / NANO_PER_USD, 9)


def as_utc(value: datetime | None) -> datetime | None:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def dump_json(value: Any) -> str | None:
    """A JSON text column's value (``None`` stays NULL)."""
    return None if value is None else orjson.dumps(value).decode()


def load_json_list(text: str | None) -> list[str] | None:
    """A JSON list column as a list of strings (NULL and bad values are ``None``)."""
    if text is None:
        return None
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return [str(item) for item in parsed] if isinstance(parsed, list) else None


def load_json_object(text: str | None) -> dict[str, Any] | None:
    """A JSON object column as a dict (NULL and bad values are ``None``)."""
    if text is None:
        return None
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None
