"""Prices of public models in USD (per 1M tokens; per image, second or call for media), with per-channel overrides.

A price is keyed by ``(model, channel)``; ``channel`` is ``""`` for the model's own price.  Prices the
config file names (``prices:``), and rows written from it (``source = 'config'``), are read-only here.
``per_image_tiers`` and ``above`` (long-context prices) are JSON objects in the API and JSON text in the
table (NULL when empty).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.config.bounds import AboveTokens, LongContextPrice, PriceAmount, PriceTiers, long_context_problem
from omnirouter.storage.accounts_models import prices_table
from omnirouter.storage.ownership import CONFIG_SOURCE, ConfigOwned
from omnirouter.storage.repo_common import Conflict, Invalid, NotFound

__all__ = [
    "PriceCreate",
    "PricePatch",
    "PriceView",
    "above_of",
    "above_text",
    "create_price",
    "delete_price",
    "get_price",
    "list_prices",
    "put_price",
    "tiers_of",
    "tiers_text",
    "update_price",
]

Amount = PriceAmount
_AMOUNTS = (
    "input",
    "output",
    "cached_input",
    "cache_write",
    "reasoning",
    "cache_write_1h",
    "per_image",
    "per_second",
    "per_1k_characters",
    "per_call",
    "image_input",
    "image_output",
    "audio_input",
    "audio_output",
)


class PriceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/prices``: USD per 1M tokens (``input``, ``output``, ...) and per image / second / call."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    channel: Annotated[str, msgspec.Meta(max_length=128)] = ""
    input: Amount = 0.0
    output: Amount = 0.0
    cached_input: Amount | None = None
    cache_write: Amount | None = None
    reasoning: Amount | None = None
    per_image: Amount | None = None
    per_second: Amount | None = None
    per_1k_characters: Amount | None = None
    per_call: Amount | None = None
    image_input: Amount | None = None
    image_output: Amount | None = None
    audio_input: Amount | None = None
    audio_output: Amount | None = None
    per_image_tiers: PriceTiers = msgspec.field(default_factory=dict)
    cache_write_1h: Amount | None = None
    above_tokens: AboveTokens | None = None
    above: LongContextPrice | None = None

    def __post_init__(self) -> None:
        problem = long_context_problem(self.above_tokens, self.above)
        if problem is not None:
            raise ValueError(problem[1])


class PricePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /admin/prices/{model}[?channel=]``: only the amounts sent change (``null`` clears an optional one)."""

    input: Amount | msgspec.UnsetType = msgspec.UNSET
    output: Amount | msgspec.UnsetType = msgspec.UNSET
    cached_input: Amount | msgspec.UnsetType | None = msgspec.UNSET
    cache_write: Amount | msgspec.UnsetType | None = msgspec.UNSET
    reasoning: Amount | msgspec.UnsetType | None = msgspec.UNSET
    per_image: Amount | msgspec.UnsetType | None = msgspec.UNSET
    per_second: Amount | msgspec.UnsetType | None = msgspec.UNSET
    per_1k_characters: Amount | msgspec.UnsetType | None = msgspec.UNSET
    per_call: Amount | msgspec.UnsetType | None = msgspec.UNSET
    image_input: Amount | msgspec.UnsetType | None = msgspec.UNSET
    image_output: Amount | msgspec.UnsetType | None = msgspec.UNSET
    audio_input: Amount | msgspec.UnsetType | None = msgspec.UNSET
    audio_output: Amount | msgspec.UnsetType | None = msgspec.UNSET
    per_image_tiers: PriceTiers | msgspec.UnsetType | None = msgspec.UNSET  # replaces the whole set
    cache_write_1h: Amount | msgspec.UnsetType | None = msgspec.UNSET
    above_tokens: AboveTokens | msgspec.UnsetType | None = msgspec.UNSET  # with ``above``: null both to clear
    above: LongContextPrice | msgspec.UnsetType | None = msgspec.UNSET


class PriceView(msgspec.Struct, kw_only=True):
    """A price row; ``channel`` is ``""`` for the model's own price."""

    model: str
    channel: str
    input: float
    output: float
    cached_input: float | None
    cache_write: float | None
    reasoning: float | None
    cache_write_1h: float | None
    per_image: float | None
    per_second: float | None
    per_1k_characters: float | None
    per_call: float | None
    image_input: float | None
    image_output: float | None
    audio_input: float | None
    audio_output: float | None
    per_image_tiers: dict[str, float]
    above_tokens: int | None
    above: LongContextPrice | None
    source: str


def tiers_of(value: Mapping[str, float] | str | None) -> dict[str, float]:
    """Per-image tiers as a config gives them (a mapping) or a ``prices`` row stores them (JSON text, NULL)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        return dict(msgspec.json.decode(value, type=dict[str, float]))
    return dict(value)


def tiers_text(tiers: Mapping[str, float] | None) -> str | None:
    """Per-image tiers as the ``prices.per_image_tiers`` column stores them: JSON text, NULL when none."""
    return msgspec.json.encode(dict(sorted(tiers.items()))).decode() if tiers else None


def above_of(value: str | LongContextPrice | None) -> LongContextPrice | None:
    """Long-context prices as a config gives them or a ``prices`` row stores them (JSON text, NULL)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return msgspec.json.decode(value, type=LongContextPrice)
    return value


def above_text(above: LongContextPrice | None) -> str | None:
    """Long-context prices as the ``prices.above`` column stores them: JSON text, NULL when none."""
    return None if above is None else msgspec.json.encode(above).decode()


def _is_config(model: str, channel: str, source: str | None, owned: ConfigOwned) -> bool:
    return source == CONFIG_SOURCE or (model, channel) in owned.prices


def _view(row: Any, owned: ConfigOwned) -> PriceView:
    amounts = {name: getattr(row, name) for name in _AMOUNTS}
    source = CONFIG_SOURCE if _is_config(row.model, row.channel, row.source, owned) else "api"
    tiers = tiers_of(row.per_image_tiers)
    return PriceView(
        model=row.model,
        channel=row.channel,
        source=source,
        per_image_tiers=tiers,
        above_tokens=row.above_tokens,
        above=above_of(row.above),
        **amounts,
    )


def _where(model: str, channel: str) -> Any:
    return (prices_table.c.model == model) & (prices_table.c.channel == channel)


def _label(model: str, channel: str) -> str:
    return f"{model!r} on channel {channel!r}" if channel else repr(model)


async def list_prices(conn: AsyncConnection, owned: ConfigOwned, *, model: str | None = None) -> list[PriceView]:
    """Every price row (optionally of one model), by model then channel."""
    stmt = select(prices_table).order_by(prices_table.c.model, prices_table.c.channel)
    if model is not None:
        stmt = stmt.where(prices_table.c.model == model)
    return [_view(row, owned) for row in await conn.execute(stmt)]


async def get_price(conn: AsyncConnection, model: str, channel: str, owned: ConfigOwned) -> PriceView:
    """One price, or ``NotFound``."""
    row = (await conn.execute(select(prices_table).where(_where(model, channel)))).first()
    if row is None:
        raise NotFound(f"No price for {_label(model, channel)}.", code="price_not_found")
    return _view(row, owned)


def _refuse_config(view: PriceView) -> None:
    if view.source == CONFIG_SOURCE:
        raise Conflict(
            f"The price of {_label(view.model, view.channel)} comes from the config file; change it there.",
            code="config_managed",
        )


async def create_price(conn: AsyncConnection, body: PriceCreate, owned: ConfigOwned) -> PriceView:
    """Add a price; one that exists (or that the config file names) is a ``Conflict``."""
    if _is_config(body.model, body.channel, None, owned):
        raise Conflict(
            f"The price of {body.model!r} comes from the config file; change it there.",
            code="config_managed",
            param="model",
        )
    exists = (await conn.execute(select(prices_table.c.model).where(_where(body.model, body.channel)))).first()
    if exists is not None:
        raise Conflict(
            f"A price for {_label(body.model, body.channel)} exists already; PATCH it instead.",
            code="price_exists",
            param="model",
        )
    values = {**msgspec.structs.asdict(body), "source": "api"}
    values["per_image_tiers"] = tiers_text(body.per_image_tiers)
    values["above"] = above_text(body.above)
    await conn.execute(prices_table.insert().values(values))
    return await get_price(conn, body.model, body.channel, owned)


async def update_price(
    conn: AsyncConnection, model: str, channel: str, patch: PricePatch, owned: ConfigOwned
) -> PriceView:
    """Change the amounts ``patch`` sets."""
    view = await get_price(conn, model, channel, owned)
    _refuse_config(view)
    values = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    if "per_image_tiers" in values:
        values["per_image_tiers"] = tiers_text(values["per_image_tiers"])
    if "above" in values or "above_tokens" in values:
        problem = long_context_problem(values.get("above_tokens", view.above_tokens), values.get("above", view.above))
        if problem is not None:
            raise Invalid(problem[1], code="invalid_price", param=problem[0])
        values["above"] = above_text(values.get("above", view.above))
    if values:
        await conn.execute(update(prices_table).where(_where(model, channel)).values(values))
    return await get_price(conn, model, channel, owned)


async def delete_price(conn: AsyncConnection, model: str, channel: str, owned: ConfigOwned) -> PriceView:
    """Delete an API price."""
    view = await get_price(conn, model, channel, owned)
    _refuse_config(view)
    await conn.execute(delete(prices_table).where(_where(model, channel)))
    return view


async def put_price(conn: AsyncConnection, body: PriceCreate, owned: ConfigOwned) -> bool:
    """Write ``body`` as the whole row of its model and channel (every amount it leaves out cleared):
    ``True`` when the row is new.  A price the config file owns is a ``Conflict``."""
    row = (await conn.execute(select(prices_table.c.source).where(_where(body.model, body.channel)))).first()
    if _is_config(body.model, body.channel, row.source if row is not None else None, owned):
        raise Conflict(
            f"The price of {_label(body.model, body.channel)} comes from the config file; change it there.",
            code="config_managed",
            param="model",
        )
    values = {**msgspec.structs.asdict(body), "source": "api"}
    values["per_image_tiers"] = tiers_text(body.per_image_tiers)
    values["above"] = above_text(body.above)
    if row is None:
        await conn.execute(prices_table.insert().values(values))
        return True
    await conn.execute(update(prices_table).where(_where(body.model, body.channel)).values(values))
    return False
