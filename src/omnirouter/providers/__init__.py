"""Upstream provider kinds and their registry."""

from omnirouter.providers.kinds import ProviderKind
from omnirouter.providers.registry import IMAGE_URL_PROTOCOLS, PROVIDERS, ProviderSpec, endpoint_url, provider_spec

__all__ = ["IMAGE_URL_PROTOCOLS", "PROVIDERS", "ProviderKind", "ProviderSpec", "endpoint_url", "provider_spec"]
