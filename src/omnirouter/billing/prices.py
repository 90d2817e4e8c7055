"""Prices and price groups, loaded from the database into memory for the request path.

The ``prices`` table holds USD prices per 1M tokens by public model (``channel = ''``) and per-channel
overrides (``channel = <name>``, e.g. a cheaper vendor); ``groups`` holds price multipliers (vip: 0.8).
Rows from the config file (``prices``, ``channel_prices``, ``groups``) are written there at start with
``source = 'config'`` by ``sync_config_prices``; the admin API writes the others.  Each worker loads
both tables into a ``PriceBook`` when it starts and again on ``reload()``.

Model names are matched exactly first; a price whose model is a glob pattern (``gpt-4o*``) applies to
the models it matches that have no exact price (first pattern in sorted order wins).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import delete, select

from omnirouter.config import GatewayConfig, PriceConfig
from omnirouter.ir.model_patterns import ModelTable, is_pattern
from omnirouter.storage import Database, groups_table, prices_table
from omnirouter.storage.database import upsert_insert
from omnirouter.storage.prices_repo import above_of, above_text, tiers_of, tiers_text

__all__ = ["CONFIG_SOURCE", "ONE", "Price", "PriceBook", "sync_config_prices"]

log = logging.getLogger("omnirouter.billing")

CONFIG_SOURCE = "config"
ONE = Decimal(1)
_MAX_MEMO = 4096


def to_decimal(value: float) -> Decimal:
    """A float price or multiplier as the decimal it was written as (``0.15`` -> ``Decimal('0.15')``)."""
    return Decimal(repr(float(value)))


def _opt_decimal(value: float | None) -> Decimal | None:
    return None if value is None else to_decimal(value)


class Price(msgspec.Struct, frozen=True, kw_only=True):
    """USD per 1M tokens of one model (on one channel).

    ``None`` means "as the base price": cached reads and cache writes cost ``input``, reasoning costs
    ``output``; image and audio tokens without a price of their own are text (``input`` / ``output``).
    ``per_image`` / ``per_second`` / ``per_1k_characters`` / ``per_call`` are USD per metered
    unit (media and tasks), charged for the units an answer reports; ``per_image_tiers`` (keys
    lower-cased) prices an image by its size and quality (``image_price``).  ``modal`` (set by ``of``):
    some token modality has a price of its own.
    ``cache_write`` is the 5-minute cache write, ``cache_write_1h`` Anthropic's 1-hour one (``None``:
    ``cache_write``).  ``above_tokens`` / ``above``: a prompt longer than ``above_tokens`` tokens
    (``Usage.input_tokens``: cached reads and writes included) makes the whole request cost ``above``
    (the long-context tier: a ``Price`` of its own, with this price's media and unit fields).
    ``whole_nano`` (set by ``of``) holds the per-token prices of input, cached input, cache write, 1-hour
    cache write, output and reasoning in nano-USD when each is a whole number (any price per 1M tokens
    with at most three decimals), so that costs are plain integer arithmetic; ``None`` otherwise.
    """

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    per_image: Decimal | None = None
    per_second: Decimal | None = None
    per_1k_characters: Decimal | None = None
    per_call: Decimal | None = None
    image_input: Decimal | None = None
    image_output: Decimal | None = None
    audio_input: Decimal | None = None
    audio_output: Decimal | None = None
    per_image_tiers: dict[str, Decimal] = msgspec.field(default_factory=dict)
    cache_write_1h: Decimal | None = None
    above_tokens: int | None = None
    above: Price | None = None
    modal: bool = False
    whole_nano: tuple[int, int, int, int, int, int] | None = None

    @property
    def cache_write_1h_or_default(self) -> Decimal:
        """USD per 1M 1-hour cache-write tokens: ``cache_write_1h``, else ``cache_write``, else ``input``."""
        if self.cache_write_1h is not None:
            return self.cache_write_1h
        return self.input if self.cache_write is None else self.cache_write

    def at(self, prompt_tokens: int) -> Price:
        """The price a request of ``prompt_tokens`` prompt tokens is charged at: ``above`` past the threshold."""
        if self.above is not None and self.above_tokens is not None and prompt_tokens > self.above_tokens:
            return self.above
        return self

    @classmethod
    def of(cls, source: Any) -> Price:
        """From anything with the price fields as floats (a ``PriceConfig``, a ``prices`` row)."""
        price = cls(
            input=to_decimal(source.input or 0.0),
            output=to_decimal(source.output or 0.0),
            cached_input=_opt_decimal(source.cached_input),
            cache_write=_opt_decimal(source.cache_write),
            reasoning=_opt_decimal(source.reasoning),
            per_image=_opt_decimal(getattr(source, "per_image", None)),
            per_second=_opt_decimal(getattr(source, "per_second", None)),
            per_1k_characters=_opt_decimal(getattr(source, "per_1k_characters", None)),
            per_call=_opt_decimal(getattr(source, "per_call", None)),
            image_input=_opt_decimal(getattr(source, "image_input", None)),
            image_output=_opt_decimal(getattr(source, "image_output", None)),
            audio_input=_opt_decimal(getattr(source, "audio_input", None)),
            audio_output=_opt_decimal(getattr(source, "audio_output", None)),
            per_image_tiers={
                key.strip().lower(): to_decimal(amount)
                for key, amount in tiers_of(getattr(source, "per_image_tiers", None)).items()
            },
            cache_write_1h=_opt_decimal(getattr(source, "cache_write_1h", None)),
        )
        modalities = (price.image_input, price.image_output, price.audio_input, price.audio_output)
        modal = any(p is not None for p in modalities)
        price = msgspec.structs.replace(price, modal=modal, whole_nano=_whole_nano_per_token(price))
        above = above_of(getattr(source, "above", None))
        above_tokens = getattr(source, "above_tokens", None)
        if above is None or above_tokens is None:
            return price
        tier = msgspec.structs.replace(
            price,
            input=to_decimal(above.input),
            output=to_decimal(above.output),
            cached_input=_opt_decimal(above.cached_input),
            cache_write=_opt_decimal(above.cache_write),
            cache_write_1h=_opt_decimal(above.cache_write_1h),
            reasoning=_opt_decimal(above.reasoning),
        )
        tier = msgspec.structs.replace(tier, whole_nano=_whole_nano_per_token(tier))
        return msgspec.structs.replace(price, above_tokens=int(above_tokens), above=tier)

    def image_price(self, size: str, quality: str) -> Decimal | None:
        """USD per image of ``size`` and ``quality`` ("" unknown): the tier ``size/quality``, else ``size``,
        else ``quality``, else ``per_image`` (None: images are free)."""
        tiers = self.per_image_tiers
        if tiers and (size or quality):
            size, quality = size.strip().lower(), quality.strip().lower()
            for key in (f"{size}/{quality}" if size and quality else "", size, quality):
                if key and key in tiers:
                    return tiers[key]
        return self.per_image

    def most_per_image(self, size: str = "", quality: str = "") -> Decimal | None:
        """The dearest ``image_price`` an image can have when its size and quality are ``size`` and
        ``quality``, each "" for any: the dearest of every tier that could match, and ``per_image``."""
        size, quality = size.strip().lower(), quality.strip().lower()
        found = [] if self.per_image is None else [self.per_image]
        for key, amount in self.per_image_tiers.items():
            tier_size, slash, tier_quality = key.partition("/")
            if slash:
                fits = (not size or tier_size == size) and (not quality or tier_quality == quality)
            else:  # a size or a quality
                fits = not size or not quality or key in (size, quality)
            if fits:
                found.append(amount)
        return max(found) if found else None


def _whole_nano_per_token(price: Price) -> tuple[int, int, int, int, int, int] | None:
    """The six token prices in nano-USD per token, if every one is a whole number."""
    rates = []
    for per_m in (
        price.input,
        price.input if price.cached_input is None else price.cached_input,
        price.input if price.cache_write is None else price.cache_write,
        price.cache_write_1h_or_default,
        price.output,
        price.output if price.reasoning is None else price.reasoning,
    ):
        nano = per_m * 1000  # USD per 1M tokens -> nano-USD per token
        if nano != nano.to_integral_value() or nano < 0:
            return None
        rates.append(int(nano))
    return rates[0], rates[1], rates[2], rates[3], rates[4], rates[5]


class PriceBook:
    """Prices and group multipliers in memory: O(1) lookups on the request path.

    ``unknown`` decides what a model without a price costs: ``"free"`` (zero, with a warning logged once
    per model) or ``"refuse"`` (the gateway refuses the request before any upstream call).
    """

    def __init__(self, db: Database | None = None, *, unknown: str = "free") -> None:
        self._db = db
        self.unknown = unknown
        self._exact: dict[tuple[str, str], Price] = {}
        self._patterns: dict[str, ModelTable[Price]] = {}  # by channel ('' for the models' own prices)
        self._memo: dict[tuple[str, str], Price | None] = {}
        self._groups: dict[str, Decimal] = {}
        self._warned_models: set[str] = set()
        self._warned_groups: set[str] = set()

    @classmethod
    def from_config(cls, config: GatewayConfig) -> PriceBook:
        """A book straight from a config (no database), for tools and tests."""
        book = cls(unknown=config.unknown_price)
        book.replace(
            [(model, "", Price.of(price)) for model, price in config.prices.items()]
            + [
                (model, channel, Price.of(price))
                for channel, prices in config.channel_prices.items()
                for model, price in prices.items()
            ],
            {name: to_decimal(multiplier) for name, multiplier in config.groups.items()},
        )
        return book

    def replace(self, prices: Iterable[tuple[str, str, Price]], groups: dict[str, Decimal]) -> None:
        """Swap in new contents (``(model, channel, price)`` triples, channel ``''`` for the model's own)."""
        exact: dict[tuple[str, str], Price] = {}
        patterns: dict[str, list[tuple[str, Price]]] = {}
        for model, channel, price in prices:
            if is_pattern(model):
                patterns.setdefault(channel, []).append((model, price))
            else:
                exact[(model, channel)] = price
        self._exact, self._groups = exact, dict(groups)
        self._patterns = {
            channel: ModelTable(sorted(entries, key=lambda entry: entry[0])) for channel, entries in patterns.items()
        }
        self._memo = {}

    async def reload(self) -> None:
        """Read ``prices`` and ``groups`` again (the admin API's changes)."""
        if self._db is None:
            return
        async with self._db.engine.connect() as conn:
            price_rows = (await conn.execute(select(prices_table))).all()
            group_rows = (await conn.execute(select(groups_table.c.name, groups_table.c.multiplier))).all()
        self.replace(
            [(row.model, row.channel or "", Price.of(row)) for row in price_rows],
            {row.name: to_decimal(row.multiplier) for row in group_rows},
        )
        log.debug("prices loaded: %d prices, %d groups", len(price_rows), len(group_rows))

    def price_for(self, model: str, channel: str | None = None) -> Price | None:
        """The price of ``model`` served by ``channel``: the channel's override, else the model's own."""
        exact = self._exact
        if channel:
            price = exact.get((model, channel))
            if price is not None:
                return price
        price = exact.get((model, ""))
        if price is not None or not self._patterns:
            return price
        return self._pattern_price(model, channel or "")

    def _pattern_price(self, model: str, channel: str) -> Price | None:
        memo_key = (model, channel)
        if memo_key in self._memo:
            return self._memo[memo_key]
        found: Price | None = None
        for wanted in (channel, "") if channel else ("",):
            table = self._patterns.get(wanted)
            found = table.get(model) if table is not None else None
            if found is not None:
                break
        if len(self._memo) >= _MAX_MEMO:
            self._memo.clear()
        self._memo[memo_key] = found
        return found

    def multiplier(self, group: str | None) -> Decimal:
        """The price multiplier of ``group`` (1 for no group; 1 with a warning for an unknown one)."""
        if group is None:
            return ONE
        multiplier = self._groups.get(group)
        if multiplier is None:
            if group not in self._warned_groups:
                self._warned_groups.add(group)
                log.warning("price group %r is not defined: multiplier 1 is used", group)
            return ONE
        return multiplier

    def warn_unknown(self, model: str) -> None:
        """Log once per model that it has no price and is served for free."""
        if model not in self._warned_models:
            self._warned_models.add(model)
            log.warning("no price for model %r: its requests cost 0 (unknown_price: refuse refuses them)", model)


def _price_values(model: str, channel: str, price: PriceConfig) -> dict[str, Any]:
    return {
        "model": model,
        "channel": channel,
        "input": price.input,
        "output": price.output,
        "cached_input": price.cached_input,
        "cache_write": price.cache_write,
        "reasoning": price.reasoning,
        "per_image": price.per_image,
        "per_second": price.per_second,
        "per_1k_characters": price.per_1k_characters,
        "per_call": price.per_call,
        "image_input": price.image_input,
        "image_output": price.image_output,
        "audio_input": price.audio_input,
        "audio_output": price.audio_output,
        "per_image_tiers": tiers_text(price.per_image_tiers),
        "cache_write_1h": price.cache_write_1h,
        "above_tokens": price.above_tokens,
        "above": above_text(price.above),
        "source": CONFIG_SOURCE,
    }


async def sync_config_prices(db: Database, config: GatewayConfig) -> None:
    """Write the config file's prices, channel overrides and groups into the database (``source='config'``).

    The file is the source of truth for what it names: its entries overwrite rows of the same name
    (also rows the admin API created), and rows it wrote earlier but no longer names are deleted.
    Rows of the admin API that the file does not name are left alone.  Safe against replicas doing the same.
    """
    prices = [_price_values(model, "", price) for model, price in config.prices.items()]
    prices += [
        _price_values(model, channel, price)
        for channel, by_model in config.channel_prices.items()
        for model, price in by_model.items()
    ]
    groups = [
        {"name": name, "multiplier": float(multiplier), "source": CONFIG_SOURCE}
        for name, multiplier in config.groups.items()
    ]
    upsert = upsert_insert(db.engine.dialect.name)
    async with db.engine.begin() as conn:
        if prices:
            stmt = upsert(prices_table)
            columns = [name for name in prices[0] if name not in ("model", "channel")]
            stmt = stmt.on_conflict_do_update(
                index_elements=["model", "channel"], set_={name: stmt.excluded[name] for name in columns}
            )
            await conn.execute(stmt, prices)
        stale = await conn.execute(
            select(prices_table.c.model, prices_table.c.channel).where(prices_table.c.source == CONFIG_SOURCE)
        )
        named = {(row["model"], row["channel"]) for row in prices}
        for model, channel in [tuple(row) for row in stale if (row.model, row.channel) not in named]:
            await conn.execute(
                delete(prices_table).where(prices_table.c.model == model, prices_table.c.channel == channel)
            )
        if groups:
            gstmt = upsert(groups_table)
            gstmt = gstmt.on_conflict_do_update(
                index_elements=["name"],
                set_={"multiplier": gstmt.excluded.multiplier, "source": gstmt.excluded.source},
            )
            await conn.execute(gstmt, groups)
        await conn.execute(
            delete(groups_table).where(
                groups_table.c.source == CONFIG_SOURCE, groups_table.c.name.not_in([g["name"] for g in groups])
            )
        )
