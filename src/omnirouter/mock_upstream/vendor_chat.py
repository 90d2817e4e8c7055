"""OpenAI-compatible chat vendors (DeepSeek, Kimi, GLM, Qwen, MiniMax, Groq, Azure, ...), each in its dialect.

Every vendor of ``providers/vendors.py`` is served under ``/{provider}`` plus the path of its own base URL
(``/deepseek/chat/completions``, ``/moonshot/v1/chat/completions``, ``/azure/openai/deployments/{model}/
chat/completions``), and the mock learns its dialect from that same table: the auth header it checks,
where it puts reasoning (its first reasoning field, or ``<think>`` tags in the content for vendors that
use them by default; MiniMax's ``reasoning_split: true`` moves it to ``reasoning_details``, Groq's
``reasoning_format: raw`` to tags), whether the request switched thinking on (its switch, else its
default), and where usage goes (DeepSeek's ``prompt_cache_hit_tokens`` instead of ``cached_tokens``,
Groq's ``x_groq.usage``, Kimi's ``choices[].usage``; no usage at all for vendors that take no
``stream_options``).  It checks the history the way each vendor wants its reasoning back: DeepSeek
(``tool_call_reasoning``) refuses a thinking request whose tool-call turns lack ``reasoning_content``, in
its own words; MiniMax (``history_think_tags``) refuses reasoning anywhere but ``<think>`` in the content
(or ``reasoning_details``); GLM (``preserved_thinking``) takes ``clear_thinking`` only inside ``thinking``;
a sampling field outside the vendor's range (``clamps``) is refused, and so is what a model's rule
(``model_rules``) forbids: a sampling value a model fixes itself (Kimi K2.5+), a ``thinking.type`` the
model has no mode for (MiniMax M3 takes ``adaptive`` or ``disabled``, and thinks by its switch), ``n`` above
1 near temperature 0 (Kimi).
A MiniMax ``body_error`` directive answers HTTP 200 with ``base_resp``; errors come in the vendor's own
shape (GLM, MiniMax, DashScope; OpenAI's for the rest).  A gateway thinking alias (``…-nothinking``) is an
unknown model.  Everything else is the OpenAI mock's (directives, errors, tool calls).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from omnirouter.mock_upstream.core import Exchange, begin, json_response, sse
from omnirouter.mock_upstream.directives import Directive
from omnirouter.mock_upstream.openai_chat import OpenAIWire, asks_usage, chat_plan, completion, usage_dict
from omnirouter.mock_upstream.plan import Plan
from omnirouter.mock_upstream.tokens import split_arguments
from omnirouter.protocols.openai_chat.dialect import (
    CLOSE_TAG,
    OPEN_TAG,
    ChatDialect,
    ModelRule,
    ReasoningField,
    ThinkingSwitch,
    UsageExtra,
    switch_state,
)
from omnirouter.providers.auth import AuthStyle
from omnirouter.providers.kinds import ProviderKind
from omnirouter.providers.vendors import VENDORS, ChatVendor

__all__ = ["VendorWire", "add_vendor_routes", "alias_name", "model_problem", "range_problem", "vendor_chat_path"]

_TAGS = "think_tags"


# A request value each vendor refuses with a 400 (``(low, high, low included, high included)``):
# DashScope's top_p is open at 1 (tak-bro/aicommit2 issue 66), GLM's temperature is [0, 1]
# (docs.z.ai/api-reference/llm/chat-completion), MiniMax's temperature (0, 1] and SenseNova's (0, 2]
# with top_p (0, 1) (docs/vendors.md: lobehub's SenseNova provider, java.agentscope.io MiniMax, check).
def _error_body(kind: ProviderKind, status: int, message: str) -> dict[str, Any] | None:
    """A vendor's own 400 body (``None``: OpenAI's shape): GLM ``{"error": {"code", "message"}}`` with its
    business code (docs.z.ai/api-reference/api-code: 1214 invalid parameter); MiniMax ``{"type": "error",
    "error": {"type", "message", "http_code"}, "request_id"}`` with the code in the message (as quoted in
    ResearAI/DeepScientist issue 48); DashScope OpenAI's object plus ``code: invalid_parameter_error``,
    ``id`` and ``request_id`` (codexu/note-gen issue 372)."""
    if status != 400:
        return None
    if kind is ProviderKind.ZHIPU:
        return {"error": {"code": "1214", "message": message}}
    if kind is ProviderKind.MINIMAX:
        wrapped = {"type": "bad_request_error", "message": f"invalid params, {message} (2013)", "http_code": "400"}
        return {"type": "error", "error": wrapped, "request_id": "0660b098aa1e9dd5a6773a48c479fc89"}
    if kind is ProviderKind.DASHSCOPE:
        error: dict[str, str | None] = {
            "code": "invalid_parameter_error",
            "param": None,
            "message": message,
            "type": "invalid_request_error",
        }
        request_id = "145078e8-0d85-98c8-98dd-c31908673b01"
        return {"error": error, "id": f"chatcmpl-{request_id}", "request_id": request_id}
    return None


class VendorWire(OpenAIWire):
    """The vendor's 400 shape where it has its own (else OpenAI's); the key is read from its own header."""

    def __init__(self, kind: ProviderKind, auth: AuthStyle) -> None:
        self.kind = kind
        self.name = kind.value
        self.auth = auth

    def error(
        self,
        status: int,
        message: str,
        error_type: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> web.Response:
        body = _error_body(self.kind, status, message)
        if body is None:
            return super().error(status, message, error_type, code=code, headers=headers, retry_after=retry_after)
        return json_response(body, status=status, headers=headers)

    def check_auth(self, request: web.Request) -> web.Response | None:
        if self.auth is not AuthStyle.API_KEY:
            return super().check_auth(request)
        key = request.headers.get("api-key", "")
        if not key or key.startswith(("bad", "invalid")) or "authorization" in request.headers:
            return self.error(401, "Access denied due to invalid subscription key or wrong API endpoint.")
        return None


def vendor_chat_path(kind: ProviderKind, vendor: ChatVendor) -> str:
    """The mock's chat route of ``vendor`` (``{model}`` a route variable)."""
    base = urlsplit(vendor.base_url).path.rstrip("/") if vendor.base_url else ""
    return f"/{kind.value}{base}{vendor.base_suffix}{vendor.chat_path.split('?')[0]}"


def alias_name(vendor: ChatVendor, model: str) -> bool:
    """Whether ``model`` is a gateway-side thinking alias (``deepseek-v4-flash-nothinking``): the vendor
    knows no such model, so a gateway must send the base name and the switch instead."""
    return vendor.thinking_alias(model, lambda base: base) is not None


def _thinking(dialect: ChatDialect, body: dict[str, Any], model: str) -> bool:
    """Whether the request (or the vendor's default) has the model think."""
    if dialect.thinking is ThinkingSwitch.MODEL_CHOICE:
        return dialect.thinks_by_default or any(word in model for word in ("think", "reason", "r1"))
    state = switch_state(dialect, body)
    return state if state is not None else dialect.thinks_by_default


def history_problem(dialect: ChatDialect, messages: list[Any], thinking: bool) -> str | None:
    """What the vendor refuses in the history it is sent back (the 400's message), or ``None``."""
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        reasoning = message.get("reasoning_content")
        if dialect.tool_call_reasoning and thinking and message.get("tool_calls") and not isinstance(reasoning, str):
            return "The reasoning_content in the thinking mode must be passed back to the API."  # DeepSeek's words
        if dialect.history_think_tags and ("reasoning_content" in message or "thinking_blocks" in message):
            # MiniMax reads past reasoning only where it gave it (<think> in the content, or
            # reasoning_details): reasoning anywhere else would be silently lost, so the mock refuses it.
            return f"invalid params, messages[{index}]: reasoning goes back in content as <think>...</think>"
    return None


def range_problem(clamps: Mapping[str, tuple[float, float]], body: dict[str, Any]) -> str | None:
    """The vendor's 400 for a sampling field outside its range."""
    for field, (low, high) in clamps.items():
        value = body.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool) and not low <= value <= high:
            return f"invalid params, {field} must be in [{low}, {high}], got {value}"
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def model_problem(dialect: ChatDialect, rule: ModelRule | None, body: dict[str, Any], thinking: bool) -> str | None:
    """The vendor's 400 for what a model refuses: a sampling value it fixes itself (Kimi K2.5+, in Kimi's
    words), a ``thinking.type`` it has no such mode for (MiniMax M3: adaptive or disabled; check), more than
    one choice near temperature 0 (Kimi)."""
    if rule is not None:
        fixed = {**rule.fixed, **({} if thinking else rule.fixed_off)}
        for field, value in fixed.items():
            if body.get(field) is not None and _number(body[field]) != value:
                return f"invalid {field}: only {value:g} is allowed for this model"
        switch = body.get("thinking")
        if rule.thinking_on is not None and switch is not None:
            kind = switch.get("type") if isinstance(switch, dict) else None
            if kind not in (rule.thinking_on, "disabled"):
                return f"invalid params, thinking.type must be {rule.thinking_on} or disabled, got {kind}"
    below = dialect.single_choice_below
    n, temperature = _number(body.get("n")), _number(body.get("temperature"))
    if below is not None and n is not None and n > 1 and temperature is not None and temperature < below:
        return "invalid n: when temperature is close to 0, n can only be 1"
    return None


def _clear_thinking_problem(body: dict[str, Any]) -> str | None:
    """GLM's ``clear_thinking`` belongs in the ``thinking`` object, as a boolean."""
    if "clear_thinking" in body:
        return "Unrecognized request argument supplied: clear_thinking (it belongs in thinking)"
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and "clear_thinking" in thinking and not isinstance(thinking["clear_thinking"], bool):
        return "thinking.clear_thinking must be a boolean"
    return None


def _reasoning_place(dialect: ChatDialect, body: dict[str, Any]) -> str:
    """Where this vendor puts reasoning for this request: a message field name, or ``think_tags``."""
    if body.get("reasoning_split") is True and ReasoningField.REASONING_DETAILS in dialect.reasoning_fields:
        return ReasoningField.REASONING_DETAILS.value
    if body.get("reasoning_format") == "raw" and dialect.think_tags:
        return _TAGS
    first = dialect.reasoning_fields[0] if dialect.reasoning_fields else ReasoningField.REASONING_CONTENT
    if dialect.think_tags and first is ReasoningField.REASONING_CONTENT:
        return _TAGS
    return first.value


def _place(message: dict[str, Any], place: str, reasoning: str) -> None:
    if place == _TAGS:
        message["content"] = f"{OPEN_TAG}{reasoning}{CLOSE_TAG}\n\n{message.get('content') or ''}"
    elif place == ReasoningField.REASONING_DETAILS.value:
        message["reasoning_details"] = [{"type": "reasoning.text", "id": "reasoning-text-1", "text": reasoning}]
    else:
        message[place] = reasoning


def _usage(dialect: ChatDialect, plan: Plan) -> dict[str, Any]:
    usage = usage_dict(plan.usage)
    if UsageExtra.PROMPT_CACHE_HIT in dialect.usage_extras:  # DeepSeek's own fields, no cached_tokens
        usage.pop("prompt_tokens_details", None)
        usage["prompt_cache_hit_tokens"] = plan.usage.cached
        usage["prompt_cache_miss_tokens"] = plan.usage.input - plan.usage.cached
    return usage


def _completion(dialect: ChatDialect, plan: Plan, place: str) -> dict[str, Any]:
    body = completion(plan, int(time.time()))
    message = body["choices"][0]["message"]
    reasoning = message.pop("reasoning_content", None)
    if reasoning:
        _place(message, place, reasoning)
    if "usage" in body:
        body["usage"] = _usage(dialect, plan)
    return body


def _chunks(dialect: ChatDialect, plan: Plan, place: str, include_usage: bool) -> list[bytes]:
    """The stream, with reasoning and usage where this vendor puts them."""
    base = {"id": f"chatcmpl-mock{plan.serial:016d}", "object": "chat.completion.chunk", "created": 0}
    base["model"] = plan.model
    frames: list[bytes] = []

    def add(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish, **extra}
        frames.append(sse({**base, "choices": [choice]}))

    add({"role": "assistant", "content": ""})
    pieces = list(plan.pieces)
    if plan.reasoning_pieces:
        if place == _TAGS:  # the tags split across chunks, as vendors stream them
            tagged = [OPEN_TAG[:3], OPEN_TAG[3:], *plan.reasoning_pieces, CLOSE_TAG[:4], CLOSE_TAG[4:] + "\n\n"]
            pieces = tagged + pieces
        else:
            for piece in plan.reasoning_pieces:
                delta: dict[str, Any] = {}
                _place(delta, place, piece)
                add(delta)
    for piece in pieces:
        add({"content": piece})
    for call in plan.tool_calls:
        first = {"index": call.index, "id": call.id, "type": "function"}
        add({"tool_calls": [{**first, "function": {"name": call.name, "arguments": ""}}]})
        for fragment in split_arguments(call.arguments_json):
            add({"tool_calls": [{"index": call.index, "function": {"arguments": fragment}}]})
    finish = "tool_calls" if plan.tool_calls else ("length" if plan.finish == "length" else "stop")
    usage = _usage(dialect, plan)
    if not include_usage:
        add({}, finish)
    elif UsageExtra.CHOICE_USAGE in dialect.usage_extras:  # Kimi: inside the last choice
        add({}, finish, usage=usage)
    elif UsageExtra.X_GROQ in dialect.usage_extras:  # Groq: x_groq.usage on the last chunk
        frames.append(
            sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "x_groq": {"usage": usage}})
        )
    else:
        add({}, finish)
        frames.append(sse({**base, "choices": [], "usage": usage}))
    return frames


def _base_resp(model: str, code: bool | int | str, message: str | None) -> dict[str, Any]:
    """MiniMax's failure in an HTTP 200 answer: no choices, zero usage, ``base_resp`` (default 2013)."""
    status = code if isinstance(code, int) and not isinstance(code, bool) else 2013
    return {
        "id": "",
        "choices": None,
        "created": int(time.time()),
        "model": model,
        "object": "chat.completion",
        "usage": {"total_tokens": 0, "prompt_tokens": 0, "completion_tokens": 0},
        "input_sensitive": False,
        "output_sensitive": False,
        "base_resp": {"status_code": status, "status_msg": message or "invalid params"},
    }


def _handler(kind: ProviderKind, vendor: ChatVendor) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    wire = VendorWire(kind, vendor.auth)
    dialect = vendor.dialect

    async def chat(request: web.Request) -> web.StreamResponse:
        ex = await begin(request, wire)
        if not isinstance(ex, Exchange):
            return ex
        body = ex.body
        model = request.match_info.get("model") or body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model or not isinstance(messages, list) or not messages:
            return wire.error(400, "model and messages are required")
        if alias_name(vendor, model):
            return wire.error(404, f"The model `{model}` does not exist")
        if vendor.api_version is not None and not request.query.get("api-version"):
            return wire.error(404, "Resource not found")
        for name in (*dialect.drops, *dialect.renames):
            if name in body:  # what the vendor rejects or spells otherwise never reaches it
                return wire.error(400, f"Unrecognized request argument supplied: {name}")
        rule = dialect.rule_for(model)
        thinking = _thinking(dialect.for_model(model), body, model)
        problem = history_problem(dialect, messages, thinking)
        if problem is None and dialect.preserved_thinking:
            problem = _clear_thinking_problem(body)
        problem = problem or range_problem(dialect.clamps, body) or model_problem(dialect, rule, body, thinking)
        if problem:
            return wire.error(400, problem)

        def base_resp_error(directive: Directive) -> web.StreamResponse | None:
            if dialect.base_resp and directive.body_error not in (None, False):
                return json_response(_base_resp(model, directive.body_error, directive.message))
            return None

        plan = await chat_plan(ex, wire, model, messages, thinking=thinking, answer_early=base_resp_error)
        if not isinstance(plan, Plan):
            return plan
        place = _reasoning_place(dialect, body)
        if body.get("stream") is not True:
            return json_response(_completion(dialect, plan, place), headers=wire.headers(plan.serial))
        always = bool(dialect.usage_extras & {UsageExtra.X_GROQ, UsageExtra.CHOICE_USAGE})
        include_usage = dialect.include_usage and (asks_usage(body) or always) and not plan.directive.no_usage
        frames = _chunks(dialect, plan, place, include_usage)
        return await ex.stream(frames, plan.directive, serial=plan.serial, suffix=b"data: [DONE]\n\n")

    return chat


def add_vendor_routes(router: web.UrlDispatcher) -> None:
    """A chat route for every vendor of ``providers/vendors.py``."""
    for kind, vendor in VENDORS.items():
        router.add_post(vendor_chat_path(kind, vendor), _handler(kind, vendor))
