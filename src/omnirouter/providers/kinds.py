"""The closed set of upstream provider kinds."""

from __future__ import annotations

import enum


class ProviderKind(enum.StrEnum):
    """Which wire protocol family a channel's upstream speaks."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
