"""Which objects the config file owns: those the admin API and the CLI may read but not change.

The rule: the file is the source of truth for what it names (its ``channels``, ``keys``, ``prices``
and, when it has them, ``groups``); the API owns everything else, and a name the file uses cannot be
created through the API.  Price and group rows written from the file carry ``source = 'config'``.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from omnirouter.config.schema import GatewayConfig
from omnirouter.storage.keys import hash_key

__all__ = ["CONFIG_SOURCE", "ConfigOwned", "config_owned"]

CONFIG_SOURCE = "config"


class ConfigOwned(msgspec.Struct, frozen=True):
    """Names (and key hashes) the config file owns."""

    key_hashes: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    prices: frozenset[tuple[str, str]] = frozenset()  # (model, channel); channel "" for the model's own price
    groups: frozenset[str] = frozenset()


def _names(value: object) -> Iterable[str]:
    if isinstance(value, dict):
        return (str(name) for name in value)
    if isinstance(value, list | tuple):
        return (str(getattr(item, "name", item)) for item in value)
    return ()


def _prices(config: GatewayConfig) -> Iterable[tuple[str, str]]:
    yield from ((model, "") for model in config.prices)
    by_channel = getattr(config, "channel_prices", None)
    if isinstance(by_channel, dict):
        for channel, by_model in by_channel.items():
            yield from ((str(model), str(channel)) for model in by_model)


def config_owned(config: GatewayConfig) -> ConfigOwned:
    """The owned names of ``config`` (``groups`` and ``channel_prices`` are read when the schema has them)."""
    return ConfigOwned(
        key_hashes=frozenset(hash_key(key.key) for key in config.keys),
        channels=frozenset(channel.name for channel in config.channels),
        prices=frozenset(_prices(config)),
        groups=frozenset(_names(getattr(config, "groups", None))),
    )
