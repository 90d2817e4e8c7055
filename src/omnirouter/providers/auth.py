"""How a provider wants its upstream key: the closed set of auth styles, each a pure function of the key.

Signed schemes (Kling's JWT from an access key and a secret key, Volcengine's request signatures) are
``SIGNED``: no channel header; the vendor's codec signs each call itself (``protocols/tasks/signing.py``)
from the channel's ``ACCESS|SECRET`` pair and sends it with ``auth=False``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Final

__all__ = ["AUTH_HEADERS", "AuthStyle", "auth_headers"]


class AuthStyle(enum.StrEnum):
    """Where the upstream key goes."""

    BEARER = "bearer"  # Authorization: Bearer <key> (OpenAI and every OpenAI-compatible vendor)
    X_API_KEY = "x-api-key"  # Anthropic, serper.dev
    X_GOOG_API_KEY = "x-goog-api-key"  # Gemini
    XI_API_KEY = "xi-api-key"  # ElevenLabs
    X_KEY = "x-key"  # Black Forest Labs (FLUX)
    TOKEN = "token"  # Authorization: Token <key> (Vidu)
    API_KEY = "api-key"  # PixVerse (API-KEY)
    MJ_API_SECRET = "mj-api-secret"  # midjourney-proxy
    SIGNED = "signed"  # the codec signs each call itself (Kling JWT, Volcengine V4, Tencent TC3): no header


AUTH_HEADERS: Final[dict[AuthStyle, Callable[[str], dict[str, str]]]] = {
    AuthStyle.BEARER: lambda key: {"authorization": f"Bearer {key}"},
    AuthStyle.X_API_KEY: lambda key: {"x-api-key": key},
    AuthStyle.X_GOOG_API_KEY: lambda key: {"x-goog-api-key": key},
    AuthStyle.XI_API_KEY: lambda key: {"xi-api-key": key},
    AuthStyle.X_KEY: lambda key: {"x-key": key},
    AuthStyle.TOKEN: lambda key: {"authorization": f"Token {key}"},
    AuthStyle.API_KEY: lambda key: {"api-key": key},
    AuthStyle.MJ_API_SECRET: lambda key: {"mj-api-secret": key},
    AuthStyle.SIGNED: lambda key: {},
}


def auth_headers(style: AuthStyle, key: str) -> dict[str, str]:
    """The headers that carry ``key`` in ``style``."""
    return AUTH_HEADERS[style](key)
