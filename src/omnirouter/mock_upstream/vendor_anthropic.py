"""Vendors' Anthropic-compatible endpoints (DeepSeek, Kimi, GLM, Qwen, MiniMax): Anthropic Messages
under ``/{provider}`` plus the path of the vendor's ``anthropic_base_url`` (``/deepseek/anthropic/v1/messages``,
``/zhipu/api/anthropic/v1/messages``), answered by the Anthropic mock.

What differs from Anthropic's own API, per the vendors' docs (docs/vendors.md): the key is read from the
header the vendor table names (``anthropic_auth``: ``x-api-key`` or ``Authorization: Bearer``) and a key
in the other header is refused, so a gateway sending the wrong one is caught; ``anthropic-version`` is
ignored (DeepSeek: "Ignored"); vendors that think by default (DeepSeek, GLM) think when the request has no
``thinking``; a gateway's thinking aliases (``…-nothinking``) are unknown models.  Like Anthropic, a
thinking block sent back in the history must carry the signature it was given, unchanged (a 400
otherwise), so a gateway that loses or rewrites signatures fails.  DeepSeek (``tool_turn_thinking``) also
takes unsigned blocks (``signature: ""``, reasoning it did not sign) and, while thinking, refuses an
assistant turn that called tools without a thinking block first, in its own words.  A sampling field
outside the vendor's range (its ``clamps``) is refused, and so is what a model's rule forbids (a sampling
value Kimi K2.5+ fixes itself, a MiniMax M3 ``thinking.type`` other than adaptive or disabled).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from omnirouter.mock_upstream.anthropic_messages import AnthropicWire, serve_messages
from omnirouter.mock_upstream.tokens import signature
from omnirouter.mock_upstream.vendor_chat import alias_name, model_problem, range_problem
from omnirouter.providers.auth import AuthStyle
from omnirouter.providers.kinds import ProviderKind
from omnirouter.providers.vendors import VENDORS, ChatVendor

__all__ = ["add_vendor_anthropic_routes", "vendor_anthropic_path"]


class VendorAnthropicWire(AnthropicWire):
    """Anthropic's error shapes; the key only from the vendor's own header."""

    def __init__(self, name: str, auth: AuthStyle) -> None:
        self.name = name
        self.auth = auth

    def check_auth(self, request: web.Request) -> web.Response | None:
        bearer = request.headers.get("Authorization", "")
        if self.auth is AuthStyle.BEARER:
            key = bearer[7:].strip() if bearer[:7].lower() == "bearer " else ""
            wrong = "x-api-key" in request.headers
        else:
            key = request.headers.get("x-api-key", "").strip()
            wrong = bool(bearer)
        if not key or wrong:
            return self.error(401, f"authentication required: {self.auth.value}")
        if key.startswith(("bad", "invalid")):
            return self.error(401, "invalid api key")
        return None


def vendor_anthropic_path(kind: ProviderKind, anthropic_base_url: str) -> str:
    """The mock's Messages route of a vendor's Anthropic-compatible base."""
    return f"/{kind.value}{urlsplit(anthropic_base_url).path.rstrip('/')}/v1/messages"


def check_signatures(body: dict[str, Any], unsigned_ok: bool = False) -> str | None:
    """The 400 message when a thinking block of the history lost or changed its signature (``unsigned_ok``:
    an empty signature is taken)."""
    for i, message in enumerate(body.get("messages") or ()):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            if unsigned_ok and block.get("signature") == "":
                continue
            if block.get("signature") != signature(str(block.get("thinking", ""))):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    return None


def _thinks(body: dict[str, Any], default: bool) -> bool:
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    return default if kind is None else kind != "disabled"


def tool_turn_problem(body: dict[str, Any]) -> str | None:
    """DeepSeek's 400 when an assistant turn that called tools has no thinking block first."""
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if message.get("role") != "assistant" or not isinstance(content, list) or not content:
            continue
        calls = any(isinstance(block, dict) and block.get("type") == "tool_use" for block in content)
        first = content[0].get("type") if isinstance(content[0], dict) else None
        if calls and first not in ("thinking", "redacted_thinking"):
            return "The `content[].thinking` in the thinking mode must be passed back to the API."
    return None


def _handler(wire: VendorAnthropicWire, vendor: ChatVendor) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    rules = vendor.anthropic_rules()
    default = rules.thinking_off_by_default

    def check(body: dict[str, Any]) -> str | None:
        model = body.get("model")
        if isinstance(model, str) and alias_name(vendor, model):
            return f"model `{model}` is not supported"
        problem = check_signatures(body, unsigned_ok=rules.tool_turn_thinking)
        if problem is None and rules.tool_turn_thinking and _thinks(body, default):
            problem = tool_turn_problem(body)
        problem = problem or range_problem(rules.clamps, body)
        rule = vendor.dialect.rule_for(model)
        return problem or model_problem(vendor.dialect, rule, body, _thinks(body, default))

    async def messages(request: web.Request) -> web.StreamResponse:
        return await serve_messages(request, wire, need_version=False, check=check, thinks_by_default=default)

    return messages


def add_vendor_anthropic_routes(router: web.UrlDispatcher) -> None:
    """A Messages route for every vendor of ``providers/vendors.py`` with an Anthropic-compatible base."""
    for kind, vendor in VENDORS.items():
        if vendor.anthropic_base_url is not None:
            wire = VendorAnthropicWire(f"{kind.value}-anthropic", vendor.anthropic_auth)
            router.add_post(vendor_anthropic_path(kind, vendor.anthropic_base_url), _handler(wire, vendor))
