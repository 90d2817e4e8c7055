"""Anthropic Messages to a vendor's Anthropic-compatible endpoint (DeepSeek, Kimi, GLM, Qwen, MiniMax): the
Anthropic codec and pass-through, with the few rules such an endpoint adds (:class:`AnthropicVendorRules`,
built per channel from the vendor's data in ``providers/vendors.py``).

* **Thinking off by default.**  Vendors that think unless told not to (DeepSeek, GLM) get
  ``thinking: {type: disabled}`` when the request has no ``thinking`` at all, as on their OpenAI-compatible
  endpoints: a client that asked for none gets none.  A client's budget rides in ``budget_tokens`` as
  Anthropic's own (DeepSeek documents it as ignored; Qwen reads it).
* Anthropic clients keep the pass-through (the body relayed as sent, signatures intact); a body the rules
  change is re-serialised.
"""

from __future__ import annotations

from typing import Any

import msgspec

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError, Usage
from omnirouter.protocols.anthropic import ANTHROPIC, ANTHROPIC_PASSTHROUGH
from omnirouter.protocols.anthropic.passthrough import AnthropicStreamFilter
from omnirouter.protocols.base import PassthroughAdapter, PreparedBody, ProtocolName, StreamDecoder, StreamEncoder

__all__ = ["AnthropicVendorRules", "VendorAnthropicCodec"]

_DISABLED = {"type": "disabled"}


class AnthropicVendorRules(msgspec.Struct, frozen=True, kw_only=True):
    """What one vendor's Anthropic-compatible endpoint needs beyond Anthropic's API.

    ``thinking_off_by_default``: the vendor thinks unless told not to, so a request without ``thinking``
    gets its explicit off switch.
    """

    thinking_off_by_default: bool = False

    @property
    def changes_requests(self) -> bool:
        """Whether any rule may edit a request (else the plain Anthropic codec serves)."""
        return self.thinking_off_by_default


def adjust_body(rules: AnthropicVendorRules, body: dict[str, Any]) -> dict[str, Any] | None:
    """A Messages body with the vendor's rules applied: a new dict, or ``None`` when nothing changes."""
    if rules.thinking_off_by_default and body.get("thinking") is None:
        return {**body, "thinking": dict(_DISABLED)}
    return None


class VendorAnthropicPassthrough:
    """Anthropic's pass-through adapter, the vendor's rules applied to the body first."""

    def __init__(self, rules: AnthropicVendorRules) -> None:
        self.rules = rules

    def check(self, body: dict[str, Any]) -> None:
        ANTHROPIC_PASSTHROUGH.check(body)

    def prepare(
        self, body: dict[str, Any], upstream_model: str, stream: bool, raw: bytes | None = None
    ) -> PreparedBody:
        adjusted = adjust_body(self.rules, body)
        if adjusted is not None:
            body, raw = adjusted, None  # the client's text no longer says the same
        return ANTHROPIC_PASSTHROUGH.prepare(body, upstream_model, stream, raw)

    def rewrite_response(self, body: bytes, public_model: str) -> tuple[bytes, Usage | None]:
        return ANTHROPIC_PASSTHROUGH.rewrite_response(body, public_model)

    def new_stream_filter(self, public_model: str, client_wants_usage: bool) -> AnthropicStreamFilter:
        return ANTHROPIC_PASSTHROUGH.new_stream_filter(public_model, client_wants_usage)


class VendorAnthropicCodec:
    """Messages ↔ IR for a vendor's Anthropic-compatible endpoint (one per channel)."""

    name: ProtocolName = ProtocolName.ANTHROPIC
    keepalive: bytes = ANTHROPIC.keepalive

    def __init__(self, rules: AnthropicVendorRules) -> None:
        self.rules = rules
        self.passthrough: PassthroughAdapter | None = VendorAnthropicPassthrough(rules)

    def decode_request(self, body: dict[str, Any]) -> ChatRequest:
        return ANTHROPIC.decode_request(body)

    def encode_request(self, request: ChatRequest) -> dict[str, Any]:
        """Anthropic's body with the vendor's rules applied."""
        body = ANTHROPIC.encode_request(request)
        return adjust_body(self.rules, body) or body

    def decode_response(self, body: dict[str, Any]) -> ChatResponse:
        return ANTHROPIC.decode_response(body)

    def encode_response(self, response: ChatResponse) -> dict[str, Any]:
        return ANTHROPIC.encode_response(response)

    def new_stream_decoder(self) -> StreamDecoder:
        return ANTHROPIC.new_stream_decoder()

    def new_stream_encoder(self, request: ChatRequest) -> StreamEncoder:
        return ANTHROPIC.new_stream_encoder(request)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return ANTHROPIC.encode_error(error)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return ANTHROPIC.decode_error(status, body)
