"""Configuration: the typed schema and the YAML loader."""

from omnirouter.config.loader import ConfigError, load_config, parse_config
from omnirouter.config.schema import (
    BreakerConfig,
    ChannelConfig,
    GatewayConfig,
    ImageFetchConfig,
    KeyConfig,
    PriceConfig,
    RoutingConfig,
)

__all__ = [
    "BreakerConfig",
    "ChannelConfig",
    "ConfigError",
    "GatewayConfig",
    "ImageFetchConfig",
    "KeyConfig",
    "PriceConfig",
    "RoutingConfig",
    "load_config",
    "parse_config",
]
