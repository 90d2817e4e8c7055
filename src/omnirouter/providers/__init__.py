"""Upstream providers as data: kinds, capabilities, auth styles and the registry."""

from omnirouter.providers.auth import AuthStyle
from omnirouter.providers.capabilities import CAPABILITY_PROTOCOLS, TASK_CAPABILITIES, Capability, capability_of
from omnirouter.providers.kinds import ProviderKind
from omnirouter.providers.registry import (
    IMAGE_URL_PROTOCOLS,
    PROVIDERS,
    Endpoint,
    ProviderSpec,
    channel_spec,
    provider_spec,
    unreachable_in,
)

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "IMAGE_URL_PROTOCOLS",
    "PROVIDERS",
    "TASK_CAPABILITIES",
    "AuthStyle",
    "Capability",
    "Endpoint",
    "ProviderKind",
    "ProviderSpec",
    "capability_of",
    "channel_spec",
    "provider_spec",
    "unreachable_in",
]
