"""Configuration: the typed schema, the YAML loader, and the masking of upstream secrets in text."""

from omnirouter.config.loader import ConfigError, load_config, parse_config
from omnirouter.config.schema import (
    BreakerConfig,
    ChannelConfig,
    GatewayConfig,
    ImageFetchConfig,
    KeyConfig,
    OtelConfig,
    PriceConfig,
    RoutingConfig,
)
from omnirouter.config.secrets import scrub

__all__ = [
    "BreakerConfig",
    "ChannelConfig",
    "ConfigError",
    "GatewayConfig",
    "ImageFetchConfig",
    "KeyConfig",
    "OtelConfig",
    "PriceConfig",
    "RoutingConfig",
    "load_config",
    "parse_config",
    "scrub",
]
