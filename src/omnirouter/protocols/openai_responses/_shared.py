"""Small helpers shared by the Responses request, response and stream modules.

The generic helpers (``invalid``, ...) are the OpenAI Chat codec's and the field readers
are in :mod:`..fields`; only what is particular to the Responses API lives here.
"""

from __future__ import annotations

import uuid
from typing import Any

from omnirouter.protocols.limits import json_text
from omnirouter.protocols.openai_chat._shared import (
    bad_upstream,
    data_uri,
    invalid,
    split_data_uri,
)

__all__ = [
    "GENERATED_REASONING_PREFIX",
    "PROTOCOL",
    "arguments_text",
    "bad_upstream",
    "data_uri",
    "flat_tool_name",
    "invalid",
    "new_id",
    "split_data_uri",
    "text_of",
]

PROTOCOL = "openai_responses"
"""The value of ``source_protocol`` / ``origin`` for data of this protocol."""

GENERATED_REASONING_PREFIX = "rs_omr"
"""Prefix of reasoning item ids the gateway makes up (never sent to an upstream as real ids)."""


def new_id(prefix: str) -> str:
    """A fresh id such as ``resp_…``, ``msg_…`` or ``fc_…``."""
    return prefix + uuid.uuid4().hex


def flat_tool_name(namespace: str | None, name: str) -> str:
    """The flat function name of a tool inside a ``namespace`` tool (Codex's rule).

    ``namespace`` loses its trailing and ``name`` its leading underscores, joined by
    ``__``: namespace ``mcp__github__`` + ``search`` → ``mcp__github__search``.
    """
    if not namespace:
        return name
    return f"{namespace.rstrip('_')}__{name.lstrip('_')}"


def arguments_text(value: Any) -> str:
    """A call's ``arguments`` as raw text (objects from lax servers are serialised)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json_text(value, "arguments")


def text_of(value: Any) -> str:
    """``value`` if it is a string, else the empty string."""
    return value if isinstance(value, str) else ""
