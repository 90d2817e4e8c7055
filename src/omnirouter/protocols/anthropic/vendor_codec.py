"""Anthropic Messages to a vendor's Anthropic-compatible endpoint (DeepSeek, Kimi, GLM, Qwen, MiniMax): the
Anthropic codec and pass-through, with the few rules such an endpoint adds (:class:`AnthropicVendorRules`,
built per channel from the vendor's data in ``providers/vendors.py``).

* **Thinking off by default.**  Vendors that think unless told not to (DeepSeek, GLM) get
  ``thinking: {type: disabled}`` when the request has no ``thinking`` at all, as on their OpenAI-compatible
  endpoints: a client that asked for none gets none.  A client's budget rides in ``budget_tokens`` as
  Anthropic's own (DeepSeek documents it as ignored; Qwen reads it).
* **Thinking before tool use** (DeepSeek, ``tool_turn_thinking``): while thinking, every assistant turn
  that called tools must start with a thinking block ("The `content[].thinking` in the thinking mode must
  be passed back to the API").  Translated histories carry the turn's reasoning text in an unsigned block
  (``signature: ""``, which DeepSeek accepts for reasoning it did not sign: reasoning that came back from an
  OpenAI or Gemini client); a signed block of the vendor's own is kept as it is; a turn with no reasoning
  at all (a client that dropped it) gets an empty unsigned block.  Pass-through bodies get the empty block
  on turns that lack one.
* **Effort instead of a budget** (``effort_map``, DeepSeek: "thinking: budget_tokens is ignored",
  "output_config: only effort is supported"): a thinking request gets ``output_config.effort`` in the
  vendor's levels, from the client's effort, else from its budget (``ir/reasoning.py``'s table); an effort
  the client set there itself is kept.
* **Sampling ranges** (``clamps``): ``temperature`` / ``top_p`` outside what the vendor takes are moved to
  the nearest end of its range (the same data as its OpenAI-compatible endpoint).
* **Model rules** (``model_rules``, the vendor's :class:`ModelRule` data, as on its OpenAI-compatible
  endpoint): sampling fields a model fixes itself are not sent (Kimi K2.5+), and a thinking request is
  written in the model's own mode (MiniMax M3: ``{type: adaptive}``, no budget).
* Anthropic clients keep the pass-through (the body relayed as sent, signatures intact); a body the rules
  change is re-serialised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from omnirouter.ir import ChatRequest, ChatResponse, GatewayError, Message, ReasoningPart, ToolCallPart, Usage
from omnirouter.ir.reasoning import budget_to_effort, thinking_wanted
from omnirouter.protocols.anthropic import ANTHROPIC, ANTHROPIC_PASSTHROUGH
from omnirouter.protocols.anthropic._shared import PROTOCOL
from omnirouter.protocols.anthropic.passthrough import AnthropicStreamFilter
from omnirouter.protocols.base import PassthroughAdapter, PreparedBody, ProtocolName, StreamDecoder, StreamEncoder
from omnirouter.protocols.openai_chat.dialect import ModelRule, clamp_sampling

__all__ = ["AnthropicVendorRules", "VendorAnthropicCodec"]

_DISABLED = {"type": "disabled"}


class AnthropicVendorRules(msgspec.Struct, frozen=True, kw_only=True):
    """What one vendor's Anthropic-compatible endpoint needs beyond Anthropic's API.

    ``thinking_off_by_default``: the vendor thinks unless told not to, so a request without ``thinking``
    gets its explicit off switch.  ``tool_turn_thinking``: while thinking, assistant turns that called tools
    must carry a thinking block back.  ``clamps``: the closed ranges of sampling fields.  ``effort_map``:
    the vendor's spelling of each effort level, for a vendor that reads ``output_config.effort`` rather
    than a budget.  ``model_rules``: departures of some models (fixed sampling, their own thinking mode).
    """

    thinking_off_by_default: bool = False
    tool_turn_thinking: bool = False
    clamps: Mapping[str, tuple[float, float]] = msgspec.field(default_factory=dict)
    effort_map: Mapping[str, str] = msgspec.field(default_factory=dict)
    model_rules: tuple[ModelRule, ...] = ()

    @property
    def changes_requests(self) -> bool:
        """Whether any rule may edit a request (else the plain Anthropic codec serves)."""
        return (
            self.thinking_off_by_default
            or self.tool_turn_thinking
            or bool(self.clamps or self.effort_map or self.model_rules)
        )


_THINKING_BLOCKS = ("thinking", "redacted_thinking")
_UNSIGNED = "\x00unsigned"
"""A signature placeholder while encoding (the encoder keeps only signed blocks), written out as ``""``."""


def _thinks(rules: AnthropicVendorRules, body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    return kind != "disabled" if kind is not None else not rules.thinking_off_by_default


def _with_tool_turn_thinking(messages: list[Any]) -> list[Any] | None:
    """``messages`` with an empty unsigned thinking block first in each assistant turn that calls tools
    without one; ``None`` when every such turn has one."""
    out: list[Any] | None = None
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if not isinstance(content, list) or not content:
            continue
        calls = any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
        first = content[0].get("type") if isinstance(content[0], dict) else None
        if calls and first not in _THINKING_BLOCKS:
            if out is None:
                out = list(messages)
            block = {"type": "thinking", "thinking": "", "signature": ""}
            out[index] = {**message, "content": [block, *content]}
    return out


def _model_rule(rule: ModelRule, body: dict[str, Any]) -> dict[str, Any] | None:
    """``body`` as the model takes it (fixed sampling fields gone, thinking in its own mode), or ``None``."""
    changed: dict[str, Any] | None = None
    fixed = [field for field in rule.fixed if field in body]
    if fixed:
        changed = {k: v for k, v in body.items() if k not in fixed}
    thinking = body.get("thinking")
    if rule.thinking_on is not None and isinstance(thinking, dict) and thinking.get("type") == "enabled":
        changed = {**(changed or body), "thinking": {"type": rule.thinking_on}}
    return changed


def adjust_body(rules: AnthropicVendorRules, body: dict[str, Any], model: str | None = None) -> dict[str, Any] | None:
    """A Messages body with the vendor's rules applied: a new dict, or ``None`` when nothing changes
    (``model``: the upstream model, when the body still names the client's)."""
    changed: dict[str, Any] | None = None
    if rules.model_rules:
        upstream = model or body.get("model")
        rule = next((r for r in rules.model_rules if r.applies_to(upstream)), None)
        if rule is not None:
            changed = _model_rule(rule, body)
    if rules.thinking_off_by_default and (changed or body).get("thinking") is None:
        changed = {**(changed or body), "thinking": dict(_DISABLED)}
    current = changed or body
    if rules.tool_turn_thinking and _thinks(rules, current) and isinstance(current.get("messages"), list):
        messages = _with_tool_turn_thinking(current["messages"])
        if messages is not None:
            changed = {**current, "messages": messages}
    if rules.effort_map:
        current = changed or body
        effort = _budget_effort(rules, current)
        if effort is not None:
            changed = _with_effort(current, effort)
    if rules.clamps:
        current = changed or body
        clamped = dict(current)
        clamp_sampling(rules.clamps, clamped)
        if clamped != current:
            changed = clamped
    return changed


def _budget_effort(rules: AnthropicVendorRules, body: dict[str, Any]) -> str | None:
    """The vendor's effort for a thinking body that has a budget and no effort of its own."""
    thinking = body.get("thinking")
    config = body.get("output_config")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    if isinstance(config, dict) and "effort" in config:
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0:
        return None
    return rules.effort_map.get(budget_to_effort(budget))


def _with_effort(body: dict[str, Any], effort: str) -> dict[str, Any]:
    config = body.get("output_config")
    return {**body, "output_config": {**(config if isinstance(config, dict) else {}), "effort": effort}}


def _unsigned_reasoning(request: ChatRequest) -> ChatRequest:
    """The request with the reasoning of each assistant turn that calls tools kept for the vendor: text the
    vendor did not sign becomes an unsigned block (the placeholder signature), a turn without any gets an
    empty one, first in the turn."""
    messages: list[Message] = []
    changed = False
    for message in request.messages:
        parts = message.content
        if message.role != "assistant" or not any(isinstance(p, ToolCallPart) for p in parts):
            messages.append(message)
            continue
        reasoning: list[Any] = []
        rest: list[Any] = []
        for part in parts:
            if not isinstance(part, ReasoningPart):
                rest.append(part)
            elif part.origin == PROTOCOL and (part.signature or part.redacted is not None):
                reasoning.append(part)  # the vendor's own, signed: as it was
            elif part.text:
                reasoning.append(ReasoningPart(text=part.text, signature=_UNSIGNED, origin=PROTOCOL))
        if not reasoning:
            reasoning.append(ReasoningPart(text="", signature=_UNSIGNED, origin=PROTOCOL))
        messages.append(msgspec.structs.replace(message, content=[*reasoning, *rest]))
        changed = True
    return msgspec.structs.replace(request, messages=messages) if changed else request


def _clear_placeholders(body: dict[str, Any]) -> None:
    for message in body.get("messages") or ():
        for block in message.get("content") or ():
            if isinstance(block, dict) and block.get("type") == "thinking" and block.get("signature") == _UNSIGNED:
                block["signature"] = ""


class VendorAnthropicPassthrough:
    """Anthropic's pass-through adapter, the vendor's rules applied to the body first."""

    def __init__(self, rules: AnthropicVendorRules) -> None:
        self.rules = rules

    def check(self, body: dict[str, Any]) -> None:
        ANTHROPIC_PASSTHROUGH.check(body)

    def prepare(
        self, body: dict[str, Any], upstream_model: str, stream: bool, raw: bytes | None = None
    ) -> PreparedBody:
        adjusted = adjust_body(self.rules, body, upstream_model)
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
        wanted = thinking_wanted(request.reasoning)
        thinks = wanted if wanted is not None else not self.rules.thinking_off_by_default
        keep_reasoning = self.rules.tool_turn_thinking and thinks
        if keep_reasoning:
            request = _unsigned_reasoning(request)
        body = ANTHROPIC.encode_request(request)
        if keep_reasoning:
            _clear_placeholders(body)
        effort = request.reasoning.effort if request.reasoning is not None else None
        thinking = body.get("thinking")
        if (
            effort is not None
            and effort in self.rules.effort_map
            and isinstance(thinking, dict)
            and thinking.get("type") in ("enabled", "adaptive")
        ):
            body = _with_effort(body, self.rules.effort_map[effort])  # the client's own level, not its budget's
        if wanted is False and "thinking" not in body and self.rules.model_rules:
            model = body.get("model")
            if any(r.thinking_on is not None and r.applies_to(model) for r in self.rules.model_rules):
                body["thinking"] = dict(_DISABLED)  # a model with a mode of its own (M3): off said, not implied
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
