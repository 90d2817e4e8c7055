"""Scrub upstream secrets from text that may reach a client or a log (pure; storage and transport use it)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk|key|AIza)[-_A-Za-z0-9]*[-_][A-Za-z0-9*._-]{6,}|\bAIza[0-9A-Za-z_-]{20,}")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret and anything shaped like an API key masked."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", text)
