"""Upstream provider kinds and their registry."""

from omnirouter.providers.kinds import ProviderKind
from omnirouter.providers.registry import PROVIDERS, ProviderSpec, provider_spec

__all__ = ["PROVIDERS", "ProviderKind", "ProviderSpec", "provider_spec"]
