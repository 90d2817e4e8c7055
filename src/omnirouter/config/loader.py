"""Read the YAML config: substitute ``${ENV}``, validate, and report errors with file, key and reason."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

import msgspec
import yaml

from omnirouter.config.schema import GatewayConfig
from omnirouter.providers import channel_spec, unreachable_in

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PLACEHOLDER = re.compile(r"omnirouterenvref\d+x")


class ConfigError(Exception):
    """A config problem, phrased as ``FILE: KEY: reason``."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source, self.key, self.reason = source, key, reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


def _protect_env_refs(text: str) -> tuple[str, dict[str, re.Match[str]]]:
    """Swap each ``${NAME}`` for a placeholder YAML reads as plain text (``[${KEY}]`` would not parse)."""
    refs: dict[str, re.Match[str]] = {}

    def protect(match: re.Match[str]) -> str:
        token = f"omnirouterenvref{len(refs)}x"
        refs[token] = match
        return token

    return _ENV_REF.sub(protect, text), refs


def _substitute(value: Any, refs: dict[str, re.Match[str]], source: str, path: str) -> Any:
    if isinstance(value, str):
        if "omnirouterenvref" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            ref = refs[match.group(0)]
            name, default = ref.group(1), ref.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(source, path, f"environment variable ${{{name}}} is not set")

        return _PLACEHOLDER.sub(replace, value)
    if isinstance(value, dict):
        return {k: _substitute(v, refs, source, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, refs, source, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _validate_semantics(config: GatewayConfig, source: str) -> None:
    names: set[str] = set()
    for i, channel in enumerate(config.channels):
        where = f"channels[{i}]"
        if channel.name in names:
            raise ConfigError(source, f"{where}.name", f"duplicate channel name {channel.name!r}")
        names.add(channel.name)
        if not channel.api_keys:
            raise ConfigError(source, f"{where}.api_keys", "at least one upstream key is required")
        if not channel.models:
            raise ConfigError(source, f"{where}.models", "at least one public model name is required")
        spec = channel_spec(channel.provider, channel.protocol)
        if spec is None:
            raise ConfigError(source, f"{where}.protocol", unreachable_in(channel.provider, channel.protocol))
        if not (channel.base_url or spec.default_base_url):
            raise ConfigError(source, f"{where}.base_url", f"is required for provider {channel.provider.value!r}")
        if channel.base_url and not channel.base_url.startswith(("http://", "https://")):
            raise ConfigError(source, f"{where}.base_url", "must start with http:// or https://")
        if channel.weight < 0:
            raise ConfigError(source, f"{where}.weight", "must not be negative")
    seen_keys: set[str] = set()
    for i, key in enumerate(config.keys):
        if key.key in seen_keys:
            raise ConfigError(source, f"keys[{i}].key", "duplicate client key")
        if len(key.key) < 8:
            raise ConfigError(source, f"keys[{i}].key", "client keys must be at least 8 characters")
        seen_keys.add(key.key)
        for cidr in key.ip_allow or ():
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ConfigError(source, f"keys[{i}].ip_allow", f"not an IP network: {cidr!r}") from None
        if key.callback_url is not None and not key.callback_url.startswith(("http://", "https://")):
            raise ConfigError(source, f"keys[{i}].callback_url", "must start with http:// or https://")
    if config.workers < 1:
        raise ConfigError(source, "workers", "must be at least 1")
    if config.public_url is not None and not config.public_url.startswith(("http://", "https://")):
        raise ConfigError(source, "public_url", "must start with http:// or https://")


def parse_config(text: str, source: str = "<config>") -> GatewayConfig:
    """Parse YAML text into a validated config."""
    text, refs = _protect_env_refs(text)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(source, where, f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "the top level must be a mapping")
    raw = _substitute(raw, refs, source, "")
    try:
        config = msgspec.convert(raw, GatewayConfig, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        reason, _, path = message.partition(" - at `$")
        key = path.rstrip("`").lstrip(".") if path else ""
        for prefix, replacement in (
            ("Object contains unknown field", "unknown key"),
            ("Object missing required field", "required key is missing"),
        ):
            if reason.startswith(prefix):
                field = reason.split("`")[1] if "`" in reason else ""
                key = f"{key}.{field}" if key else field
                reason = replacement
        raise ConfigError(source, key, reason) from None
    _validate_semantics(config, source)
    return config


def load_config(path: str | os.PathLike[str] | None) -> GatewayConfig:
    """Load the config file at ``path``; ``None`` gives the embedded defaults."""
    if path is None:
        return GatewayConfig()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(file), "", f"cannot read: {exc.strerror}") from None
    return parse_config(text, str(file))
