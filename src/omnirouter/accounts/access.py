"""Per-key access rules checked on every request: expiry, model allow-list, IP allow-list."""

from __future__ import annotations

import ipaddress
import time
from functools import lru_cache

from omnirouter.http.asgi import Scope
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.model_patterns import ModelPatterns
from omnirouter.storage import KeyRecord


@lru_cache(maxsize=1024)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


@lru_cache(maxsize=1024)
def _allowed_models(models: tuple[str, ...]) -> ModelPatterns:
    return ModelPatterns(models)


def client_address(scope: Scope) -> str | None:
    """The peer address of the connection (put a trusted proxy's address rewriting in front if needed)."""
    client = scope.get("client")
    return client[0] if client else None


def model_allowed(key: KeyRecord, model: str) -> bool:
    """Whether ``key`` may use ``model`` (its allow-list holds glob patterns)."""
    return key.models is None or model in _allowed_models(key.models)


def check_access(key: KeyRecord, scope: Scope, model: str) -> None:
    """Raise the right error if ``key`` may not make this request."""
    if key.expires_at is not None and key.expires_at <= time.time():
        raise GatewayError(ErrorKind.AUTHENTICATION, "This API key has expired.", code="key_expired")
    if key.ip_allow is not None:
        address = client_address(scope)
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            ip = None
        if ip is None or not any(ip in network for network in _networks(key.ip_allow)):
            raise GatewayError(
                ErrorKind.PERMISSION, "This API key may not be used from this address.", code="ip_not_allowed"
            )
    if not model_allowed(key, model):
        raise GatewayError(
            ErrorKind.PERMISSION, f"This API key may not use the model '{model}'.", code="model_not_allowed"
        )
