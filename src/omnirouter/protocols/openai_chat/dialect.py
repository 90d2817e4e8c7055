"""How one OpenAI-compatible vendor differs from OpenAI's Chat Completions: a frozen record of data.

A :class:`ChatDialect` says where the vendor puts reasoning text, how it switches thinking on and off,
which request fields it renames or rejects, and where it hides usage.  The table of every vendor's
record is ``providers/vendors.py`` (docs/vendors.md); the functions here apply one record to an
outbound request body and to an upstream answer, so the codecs stay free of per-vendor branches.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

import msgspec

from omnirouter.ir import ChatRequest
from omnirouter.ir.reasoning import thinking_wanted

__all__ = [
    "ChatDialect",
    "ModelRule",
    "ReasoningField",
    "ThinkingSwitch",
    "UsageExtra",
    "adjust_request",
    "clamp_sampling",
    "normalize_message",
    "switch_state",
    "thinking_wanted",
]


class ReasoningField(enum.StrEnum):
    """Where reasoning text comes back in a message (or a stream delta)."""

    REASONING_CONTENT = "reasoning_content"  # DeepSeek, Kimi, GLM, Qwen, Doubao, ...
    REASONING = "reasoning"  # vLLM, OpenRouter, Groq (parsed), Ollama, Together
    REASONING_DETAILS = "reasoning_details"  # MiniMax reasoning_split, OpenRouter: [{type, text}]


class ThinkingSwitch(enum.StrEnum):
    """How a request switches thinking on or off."""

    REASONING_EFFORT = "reasoning_effort"  # OpenAI's own (xAI, Groq, Azure, Ollama, Fireworks)
    THINKING_OBJECT = "thinking_object"  # thinking: {type: enabled | disabled} (DeepSeek, Kimi, GLM, Doubao)
    ENABLE_THINKING = "enable_thinking"  # enable_thinking + thinking_budget (Qwen, SiliconFlow, Ling)
    REASONING_OBJECT = "reasoning_object"  # reasoning: {effort | max_tokens | enabled} (OpenRouter)
    CHAT_TEMPLATE_KWARGS = "chat_template_kwargs"  # chat_template_kwargs: {enable_thinking} (vLLM)
    MODEL_CHOICE = "model_choice"  # no switch: the model thinks or not (reasoning controls are dropped)


class UsageExtra(enum.StrEnum):
    """Usage a vendor reports outside OpenAI's ``usage`` object."""

    PROMPT_CACHE_HIT = "prompt_cache_hit_tokens"  # DeepSeek: cached reads as usage.prompt_cache_hit_tokens
    X_GROQ = "x_groq"  # Groq: the last stream chunk's x_groq.usage
    CHOICE_USAGE = "choice_usage"  # Kimi: the stream's usage inside choices[].usage


class ModelRule(msgspec.Struct, frozen=True, kw_only=True):
    """How some of a vendor's models depart from the vendor's dialect (``models``: glob patterns of upstream
    model names).

    ``fixed``: sampling fields the model fixes itself, with the value it takes (``fixed_off``: the values
    that differ while it does not think); the gateway never sends them, the vendor refuses another value
    (Kimi K2.5+: "invalid temperature: only 1 is allowed for this model").  ``thinking``: the switch these
    models take instead of the vendor's, ``thinking_on`` the ``thinking.type`` that switches it on (MiniMax
    M3: ``adaptive``), ``thinks_by_default`` whether they think when not told (``None``: as the vendor).
    """

    models: tuple[str, ...]
    fixed: Mapping[str, float] = msgspec.field(default_factory=dict)
    fixed_off: Mapping[str, float] = msgspec.field(default_factory=dict)
    thinking: ThinkingSwitch | None = None
    thinking_on: str | None = None
    thinks_by_default: bool | None = None

    def applies_to(self, model: object) -> bool:
        """Whether ``model`` (an upstream model name) is one of this rule's."""
        return isinstance(model, str) and any(fnmatchcase(model, pattern) for pattern in self.models)


class ChatDialect(msgspec.Struct, frozen=True, kw_only=True):
    """One vendor's departures from OpenAI Chat Completions (the defaults are OpenAI's own).

    ``reasoning_fields``: where reasoning text is read from, in order; ``think_tags``: a leading
    ``<think>…</think>`` in the content is reasoning too.  ``thinking``: the switch; ``thinks_by_default``:
    the vendor thinks unless told not to, so a request without thinking gets the explicit off switch;
    ``effort_map``: how OpenAI effort levels are spelled for a vendor that takes an effort beside its
    switch (DeepSeek).  ``renames`` / ``drops``: request fields renamed or never sent;
    ``tool_choice_map``: ``tool_choice`` strings respelled.  ``usage_extras``: where else usage is;
    ``include_usage``: whether it takes ``stream_options.include_usage``.  ``base_resp``: a failure may
    come in an HTTP 200 answer's ``base_resp`` (MiniMax, ``body_errors.py``).
    ``tool_call_reasoning``: while thinking, every assistant turn of the history that called tools must carry
    ``reasoning_content``
    (DeepSeek answers 400 otherwise); the gateway sends the reasoning it has, else an empty one.
    ``history_think_tags``: past reasoning goes back the way the vendor gave it, as ``<think>…</think>`` at
    the start of the assistant content (MiniMax: "the complete assistant message must be appended"; with
    ``reasoning_split`` as ``reasoning_details``).  ``preserved_thinking``: a thinking request whose history
    carries reasoning asks the vendor to keep it (GLM ``thinking.clear_thinking: false``).  ``clamps``: the
    closed range the vendor takes for a sampling field (``temperature``, ``top_p``); a value outside is
    moved to the nearest end (an open end such as MiniMax's ``(0, 1]`` is written as ``0.01``).
    ``thinking_on``: the ``thinking.type`` that switches thinking on (``enabled``).  ``single_choice_below``:
    below this temperature the vendor takes only ``n: 1`` (Kimi), so ``n`` is sent as 1 there.
    ``model_rules``: departures of some models (:class:`ModelRule`; the first that applies counts).
    """

    reasoning_fields: tuple[ReasoningField, ...] = (ReasoningField.REASONING_CONTENT, ReasoningField.REASONING)
    think_tags: bool = False
    thinking: ThinkingSwitch = ThinkingSwitch.REASONING_EFFORT
    thinks_by_default: bool = False
    effort_map: Mapping[str, str] = msgspec.field(default_factory=dict)
    renames: Mapping[str, str] = msgspec.field(default_factory=dict)
    drops: frozenset[str] = frozenset()
    tool_choice_map: Mapping[str, str] = msgspec.field(default_factory=dict)
    usage_extras: frozenset[UsageExtra] = frozenset()
    include_usage: bool = True
    base_resp: bool = False
    tool_call_reasoning: bool = False
    history_think_tags: bool = False
    preserved_thinking: bool = False
    clamps: Mapping[str, tuple[float, float]] = msgspec.field(default_factory=dict)
    thinking_on: str = "enabled"
    single_choice_below: float | None = None
    model_rules: tuple[ModelRule, ...] = ()

    def rule_for(self, model: object) -> ModelRule | None:
        """The model rule of upstream ``model`` (``None`` when the vendor's dialect holds as it is)."""
        return next((rule for rule in self.model_rules if rule.applies_to(model)), None)

    def for_model(self, model: object, rule: ModelRule | None = None) -> ChatDialect:
        """This dialect as it holds for upstream ``model`` (its rule's switch applied; itself without one);
        ``rule``: the model's rule when the caller has looked it up already."""
        rule = rule or (self.rule_for(model) if self.model_rules else None)
        if rule is None or (rule.thinking is None and rule.thinking_on is None and rule.thinks_by_default is None):
            return self
        return msgspec.structs.replace(
            self,
            thinking=rule.thinking or self.thinking,
            thinking_on=rule.thinking_on or self.thinking_on,
            thinks_by_default=self.thinks_by_default if rule.thinks_by_default is None else rule.thinks_by_default,
            model_rules=(),
        )

    @property
    def reads_details(self) -> bool:
        """Whether reasoning may come as ``reasoning_details`` (beyond the generic two fields)."""
        return ReasoningField.REASONING_DETAILS in self.reasoning_fields


_SWITCH_FIELDS: dict[ThinkingSwitch, str] = {
    ThinkingSwitch.THINKING_OBJECT: "thinking",
    ThinkingSwitch.ENABLE_THINKING: "enable_thinking",
    ThinkingSwitch.REASONING_OBJECT: "reasoning",
    ThinkingSwitch.CHAT_TEMPLATE_KWARGS: "chat_template_kwargs",
}


def _switch(dialect: ChatDialect, request: ChatRequest, body: dict[str, Any]) -> None:
    """Replace OpenAI's ``reasoning_effort`` by the vendor's own switch (a switch the client already wrote
    in the vendor's own words, an OpenAI client's extra field, is kept as it is)."""
    style = dialect.thinking
    effort = body.pop("reasoning_effort", None) if style is not ThinkingSwitch.REASONING_EFFORT else None
    own = _SWITCH_FIELDS.get(style)
    if own is not None and own in body:
        return
    wanted = thinking_wanted(request.reasoning)
    budget = request.reasoning.budget_tokens if request.reasoning is not None else None
    if style is ThinkingSwitch.REASONING_EFFORT:
        if body.get("reasoning_effort") == "none" and wanted is False:
            body.pop("reasoning_effort")  # only OpenAI's own models know "none"
    elif style is ThinkingSwitch.THINKING_OBJECT:
        if wanted:
            body["thinking"] = {"type": dialect.thinking_on}
            if isinstance(effort, str) and effort in dialect.effort_map:
                body["reasoning_effort"] = dialect.effort_map[effort]
        elif wanted is False or dialect.thinks_by_default:
            body["thinking"] = {"type": "disabled"}
    elif style is ThinkingSwitch.ENABLE_THINKING:
        if wanted is not None or dialect.thinks_by_default:
            body["enable_thinking"] = bool(wanted)
        if wanted and budget:
            body["thinking_budget"] = budget
    elif style is ThinkingSwitch.REASONING_OBJECT:
        if wanted is False:
            body["reasoning"] = {"enabled": False}
        elif wanted:
            body["reasoning"] = {"max_tokens": budget} if budget else {"effort": effort or "medium"}
    elif style is ThinkingSwitch.CHAT_TEMPLATE_KWARGS and wanted is not None:
        body["chat_template_kwargs"] = {"enable_thinking": wanted}


def switch_state(dialect: ChatDialect, body: dict[str, Any]) -> bool | None:
    """Whether a request body in the vendor's dialect switches thinking on (``True``) or off (``False``);
    ``None`` when it has no switch (the vendor's default holds)."""
    style = dialect.thinking
    if style is ThinkingSwitch.THINKING_OBJECT:
        thinking = body.get("thinking")
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        return None if kind is None else kind != "disabled"
    if style is ThinkingSwitch.ENABLE_THINKING:
        flag = body.get("enable_thinking")
        return None if flag is None else flag is True
    if style is ThinkingSwitch.REASONING_OBJECT:
        reasoning = body.get("reasoning")
        return None if not isinstance(reasoning, dict) else reasoning.get("enabled") is not False
    if style is ThinkingSwitch.CHAT_TEMPLATE_KWARGS:
        kwargs = body.get("chat_template_kwargs")
        flag = kwargs.get("enable_thinking") if isinstance(kwargs, dict) else None
        return None if flag is None else flag is True
    if style is ThinkingSwitch.REASONING_EFFORT:
        effort = body.get("reasoning_effort")
        return None if effort is None else effort != "none"
    return None


def _tool_call_reasoning(body: dict[str, Any]) -> None:
    """``reasoning_content`` on every assistant turn that called tools (empty where none was kept)."""
    for message in body.get("messages") or ():
        if (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and message.get("tool_calls")
            and not isinstance(message.get("reasoning_content"), str)
        ):
            message["reasoning_content"] = ""


def clamp_sampling(clamps: Mapping[str, tuple[float, float]], body: dict[str, Any]) -> None:
    """Sampling fields of ``body`` moved into the vendor's ranges, in place."""
    for field, (low, high) in clamps.items():
        value = body.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool) and not low <= value <= high:
            body[field] = low if value < low else high


def _assistants(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body.get("messages") or () if isinstance(m, dict) and m.get("role") == "assistant"]


def _history_as_tags(body: dict[str, Any]) -> None:
    """Past reasoning back in the vendor's own form: ``<think>`` in the content (``reasoning_details`` when
    the request asks for split reasoning)."""
    split = body.get("reasoning_split") is True
    for message in _assistants(body):
        message.pop("thinking_blocks", None)
        reasoning = message.pop("reasoning_content", None)
        if not isinstance(reasoning, str) or not reasoning:
            continue
        if split:
            message["reasoning_details"] = [{"type": "reasoning.text", "text": reasoning}]
            continue
        tagged = f"{OPEN_TAG}{reasoning}{CLOSE_TAG}\n\n"
        content = message.get("content")
        if isinstance(content, list):
            message["content"] = [{"type": "text", "text": tagged}, *content]
        else:
            message["content"] = tagged + (content if isinstance(content, str) else "")


def _preserve_thinking(body: dict[str, Any]) -> None:
    """``clear_thinking: false`` in a thinking request whose history carries reasoning (unless set)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled" or "clear_thinking" in thinking:
        return
    if any(isinstance(m.get("reasoning_content"), str) and m["reasoning_content"] for m in _assistants(body)):
        body["thinking"] = {**thinking, "clear_thinking": False}


def _sampling_rules(dialect: ChatDialect, rule: ModelRule | None, body: dict[str, Any]) -> None:
    """Fields the model fixes itself dropped; ``n: 1`` where the vendor takes no more choices."""
    if rule is not None:
        for field in rule.fixed:
            body.pop(field, None)
    below = dialect.single_choice_below
    temperature = body.get("temperature")
    n = body.get("n")
    if (
        below is not None
        and isinstance(n, int)
        and n > 1
        and isinstance(temperature, int | float)
        and not isinstance(temperature, bool)
        and temperature < below
    ):
        body["n"] = 1


def adjust_request(dialect: ChatDialect, request: ChatRequest, body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI Chat body (from ``encode_request``) in the vendor's dialect; edits and returns ``body``."""
    rule = dialect.rule_for(body.get("model")) if dialect.model_rules else None
    if rule is not None:
        dialect = dialect.for_model(body.get("model"), rule)
    _switch(dialect, request, body)
    if dialect.tool_call_reasoning:
        state = switch_state(dialect, body)
        if state if state is not None else dialect.thinks_by_default:
            _tool_call_reasoning(body)
    if dialect.history_think_tags:
        _history_as_tags(body)
    if dialect.preserved_thinking:
        _preserve_thinking(body)
    if dialect.clamps:
        clamp_sampling(dialect.clamps, body)
    if rule is not None or dialect.single_choice_below is not None:
        _sampling_rules(dialect, rule, body)
    if not dialect.include_usage:
        body.pop("stream_options", None)
    for field in dialect.drops:
        body.pop(field, None)
    for old, new in dialect.renames.items():
        if old in body:
            value = body.pop(old)
            body.setdefault(new, value)
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice in dialect.tool_choice_map:
        body["tool_choice"] = dialect.tool_choice_map[choice]
    return body


def details_text(details: Any) -> str:
    """The readable text of a ``reasoning_details`` array (``reasoning.text`` / ``summary`` entries)."""
    if not isinstance(details, list):
        return ""
    texts: list[str] = []
    for item in details:
        if isinstance(item, dict):
            text = item.get("text")
            if not isinstance(text, str):
                text = item.get("summary")
            if isinstance(text, str):
                texts.append(text)
    return "".join(texts)


def split_think_tags(content: str) -> tuple[str, str] | None:
    """``(reasoning, answer)`` of content that opens with ``<think>``; ``None`` when it does not."""
    stripped = content.lstrip()
    if not stripped.startswith(OPEN_TAG):
        return None
    rest = stripped[len(OPEN_TAG) :]
    end = rest.find(CLOSE_TAG)
    if end < 0:
        return rest, ""
    return rest[:end], rest[end + len(CLOSE_TAG) :].lstrip("\n")


OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def normalize_message(dialect: ChatDialect, message: dict[str, Any]) -> None:
    """Move a vendor's reasoning into ``reasoning_content`` of a message (or stream delta), in place."""
    if isinstance(message.get("reasoning_content"), str) and message["reasoning_content"]:
        return
    for field in dialect.reasoning_fields:
        if field is ReasoningField.REASONING_DETAILS:
            text = details_text(message.get("reasoning_details"))
        else:
            value = message.get(field.value)
            text = value if isinstance(value, str) else ""
        if text:
            message["reasoning_content"] = text
            return
    if dialect.think_tags:
        content = message.get("content")
        if isinstance(content, str):
            split = split_think_tags(content)
            if split is not None:
                message["reasoning_content"], message["content"] = split
