"""Configuration: the typed schema and the YAML loader."""

from omnirouter.config.loader import ConfigError, load_config, parse_config
from omnirouter.config.schema import ChannelConfig, GatewayConfig, KeyConfig, PriceConfig

__all__ = ["ChannelConfig", "ConfigError", "GatewayConfig", "KeyConfig", "PriceConfig", "load_config", "parse_config"]
