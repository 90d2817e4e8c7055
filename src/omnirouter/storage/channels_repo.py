"""Channels created through the admin API, stored as their config (the YAML keys, as JSON) in ``channels``.

Settings are validated with ``msgspec`` against ``ChannelConfig`` plus the loader's own rules, so an
API channel is exactly what the same entry in the config file would be.  Channels of the config file
are listed here too (read-only, ``source = 'config'``); their names cannot be taken by API channels.
Views never show upstream keys: only a masked form of each.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.config.schema import BreakerConfig, ChannelConfig
from omnirouter.config.secrets import scrub
from omnirouter.providers import ProviderKind, channel_spec, unreachable_in
from omnirouter.storage.accounts_models import channels_table
from omnirouter.storage.models import utcnow
from omnirouter.storage.ownership import CONFIG_SOURCE
from omnirouter.storage.repo_common import Conflict, Invalid, NotFound

__all__ = [
    "ChannelPatch",
    "ChannelView",
    "channel_view",
    "check_channel",
    "create_channel",
    "delete_channel",
    "get_channel",
    "has_api_channels",
    "list_channels",
    "load_channel_configs",
    "update_channel",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
ChannelStatus = Literal["active", "disabled"]


class ChannelPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /admin/channels/{name}``: the config keys to change (lists and maps are replaced whole)."""

    provider: ProviderKind | msgspec.UnsetType = msgspec.UNSET
    protocol: Literal["openai", "anthropic"] | msgspec.UnsetType | None = msgspec.UNSET
    base_url: str | msgspec.UnsetType = msgspec.UNSET
    api_keys: list[str] | msgspec.UnsetType = msgspec.UNSET
    models: list[str] | msgspec.UnsetType = msgspec.UNSET
    model_map: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    priority: int | msgspec.UnsetType = msgspec.UNSET
    weight: int | msgspec.UnsetType = msgspec.UNSET
    responses_models: list[str] | msgspec.UnsetType = msgspec.UNSET
    max_output_tokens: int | msgspec.UnsetType | None = msgspec.UNSET
    connect_timeout: float | msgspec.UnsetType = msgspec.UNSET
    first_byte_timeout: float | msgspec.UnsetType = msgspec.UNSET
    idle_timeout: float | msgspec.UnsetType = msgspec.UNSET
    total_timeout: float | msgspec.UnsetType = msgspec.UNSET
    max_concurrency: int | msgspec.UnsetType | None = msgspec.UNSET
    breaker: BreakerConfig | msgspec.UnsetType | None = msgspec.UNSET
    headers: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    options: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    status: ChannelStatus | msgspec.UnsetType = msgspec.UNSET


class ChannelView(msgspec.Struct, kw_only=True):
    """A channel's settings with its secrets masked; ``status`` ``disabled`` takes it out of routing."""

    name: str
    source: str
    status: str
    provider: str
    protocol: str | None
    base_url: str
    api_keys: list[str]
    models: list[str]
    model_map: dict[str, str]
    priority: int
    weight: int
    responses_models: list[str]
    max_output_tokens: int | None
    connect_timeout: float
    first_byte_timeout: float
    idle_timeout: float
    total_timeout: float
    max_concurrency: int | None
    breaker: BreakerConfig | None
    headers: dict[str, str]
    options: dict[str, str]
    updated_at: datetime | None


def _mask(secret: str) -> str:
    return f"{secret[:4]}…" if len(secret) >= 12 else "…"


def channel_view(config: ChannelConfig, source: str, status: str, updated_at: datetime | None) -> ChannelView:
    """The view of a channel's config: upstream keys as ``sk-u…``, header values as ``…``, URL scrubbed."""
    return ChannelView(
        name=config.name,
        source=source,
        status=status,
        provider=config.provider.value,
        protocol=config.protocol,
        base_url=scrub(config.base_url, config.api_keys),
        api_keys=[_mask(key) for key in config.api_keys],
        models=list(config.models),
        model_map=dict(config.model_map),
        priority=config.priority,
        weight=config.weight,
        responses_models=list(config.responses_models),
        max_output_tokens=config.max_output_tokens,
        connect_timeout=config.connect_timeout,
        first_byte_timeout=config.first_byte_timeout,
        idle_timeout=config.idle_timeout,
        total_timeout=config.total_timeout,
        max_concurrency=config.max_concurrency,
        breaker=config.breaker,
        headers={name: "…" for name in config.headers},
        options={name: "…" for name in config.options},
        updated_at=updated_at,
    )


def check_channel(config: ChannelConfig) -> None:
    """The config file's rules for a channel, as ``Invalid`` naming the field."""

    def invalid(field: str, reason: str) -> Invalid:
        return Invalid(f"'{field}': {reason}", code="invalid_value", param=field)

    if not _NAME.match(config.name):
        raise invalid("name", "1-128 letters, digits or . _ : @ - (starting with a letter or digit).")
    spec = channel_spec(config.provider, config.protocol)
    if spec is None:
        raise invalid("protocol", unreachable_in(config.provider, config.protocol) + ".")
    if not (config.base_url or spec.default_base_url):
        raise invalid("base_url", f"is required for provider {config.provider.value!r}.")
    if config.base_url and not config.base_url.startswith(("http://", "https://")):
        raise invalid("base_url", "must start with http:// or https://.")
    if not config.api_keys or not all(config.api_keys):
        raise invalid("api_keys", "at least one upstream key is required, and none may be empty.")
    if not config.models or not all(config.models):
        raise invalid("models", "at least one public model name is required, and none may be empty.")
    if config.weight < 0:
        raise invalid("weight", "must not be negative.")
    for field in ("connect_timeout", "first_byte_timeout", "idle_timeout", "total_timeout"):
        if getattr(config, field) <= 0:
            raise invalid(field, "must be more than 0 seconds.")
    if config.max_concurrency is not None and config.max_concurrency < 1:
        raise invalid("max_concurrency", "must be at least 1 (or null for no limit).")
    if config.max_output_tokens is not None and config.max_output_tokens < 1:
        raise invalid("max_output_tokens", "must be at least 1 (or null).")


def _decode(settings: str) -> ChannelConfig | None:
    try:
        return msgspec.json.decode(settings, type=ChannelConfig)
    except msgspec.ValidationError:
        return None


async def _row(conn: AsyncConnection, name: str) -> Any:
    return (await conn.execute(select(channels_table).where(channels_table.c.name == name))).first()


async def load_channel_configs(conn: AsyncConnection) -> list[ChannelConfig]:
    """The active API channels' configs, by name (rows that no longer validate are skipped)."""
    stmt = select(channels_table).where(channels_table.c.status == "active").order_by(channels_table.c.name)
    found = (_decode(row.settings) for row in await conn.execute(stmt))
    return [config for config in found if config is not None]


async def has_api_channels(conn: AsyncConnection) -> bool:
    """Whether any API channel is stored, active or disabled (demo mode is for a gateway with none)."""
    return (await conn.execute(select(channels_table.c.name).limit(1))).first() is not None


async def list_channels(conn: AsyncConnection, config_channels: list[ChannelConfig]) -> list[ChannelView]:
    """The config file's channels, then the API's, by name."""
    views = [channel_view(c, CONFIG_SOURCE, "active", None) for c in config_channels]
    for row in await conn.execute(select(channels_table).order_by(channels_table.c.name)):
        config = _decode(row.settings)
        if config is not None:
            views.append(channel_view(config, "api", row.status, row.updated_at))
    return views


def _config_channel(name: str, config_channels: list[ChannelConfig]) -> ChannelConfig | None:
    return next((c for c in config_channels if c.name == name), None)


async def get_channel(conn: AsyncConnection, name: str, config_channels: list[ChannelConfig]) -> ChannelView:
    """One channel (of the file or the API), or ``NotFound``."""
    from_file = _config_channel(name, config_channels)
    if from_file is not None:
        return channel_view(from_file, CONFIG_SOURCE, "active", None)
    row = await _row(conn, name)
    config = None if row is None else _decode(row.settings)
    if row is None or config is None:
        raise NotFound(f"No channel named {name!r}.", code="channel_not_found")
    return channel_view(config, "api", row.status, row.updated_at)


def _refuse_config(name: str, config_channels: list[ChannelConfig]) -> None:
    if _config_channel(name, config_channels) is not None:
        raise Conflict(
            f"The channel {name!r} comes from the config file; change it there (or pick another name).",
            code="config_managed",
            param="name",
        )


async def create_channel(
    conn: AsyncConnection, config: ChannelConfig, config_channels: list[ChannelConfig]
) -> ChannelView:
    """Store a new API channel; a name in use (here or in the config file) is a ``Conflict``."""
    check_channel(config)
    _refuse_config(config.name, config_channels)
    if await _row(conn, config.name) is not None:
        raise Conflict(f"A channel named {config.name!r} already exists.", code="channel_exists", param="name")
    settings = msgspec.json.encode(config).decode()
    values = {"name": config.name, "settings": settings, "status": "active", "updated_at": utcnow()}
    await conn.execute(channels_table.insert().values(values))
    return await get_channel(conn, config.name, config_channels)


async def update_channel(
    conn: AsyncConnection, name: str, patch: ChannelPatch, config_channels: list[ChannelConfig]
) -> ChannelView:
    """Apply ``patch`` to an API channel and check the result as a whole."""
    _refuse_config(name, config_channels)
    await get_channel(conn, name, config_channels)
    row = await _row(conn, name)
    changes = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    status = changes.pop("status", row.status)
    merged = {**msgspec.to_builtins(_decode(row.settings)), **msgspec.to_builtins(changes)}
    try:
        config = msgspec.convert(merged, ChannelConfig)
    except msgspec.ValidationError as exc:
        raise Invalid(f"Invalid channel settings: {exc}", code="invalid_value") from None
    check_channel(config)
    values = {"settings": msgspec.json.encode(config).decode(), "status": status, "updated_at": utcnow()}
    await conn.execute(update(channels_table).where(channels_table.c.name == name).values(values))
    return await get_channel(conn, name, config_channels)


async def delete_channel(conn: AsyncConnection, name: str, config_channels: list[ChannelConfig]) -> ChannelView:
    """Delete an API channel (requests in flight on it finish)."""
    _refuse_config(name, config_channels)
    view = await get_channel(conn, name, config_channels)
    await conn.execute(delete(channels_table).where(channels_table.c.name == name))
    return view
