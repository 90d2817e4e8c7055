"""Gemini: ``models/{model}:generateContent``, ``:streamGenerateContent``, ``:countTokens``
(media methods and IMAGE/AUDIO modalities are answered by ``media_gemini``)."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from aiohttp import web

from omnirouter.mock_upstream.core import Exchange, Wire, as_int, begin, json_response, retry_after_value
from omnirouter.mock_upstream.plan import Plan, build_plan
from omnirouter.mock_upstream.tokens import count_input, count_words, signature

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_BAD_KEY = "API key not valid. Please pass a valid API key."
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_SAFETY = [
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
]


def _status(status: int) -> str:
    return _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")


def _frame(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\r\n\r\n"


class GeminiWire(Wire):
    """Gemini: ``x-goog-api-key`` or ``?key=``; ``{"error": {code, message, status, details?}}``."""

    name = "gemini"
    sse_content_type = "text/event-stream"

    def check_auth(self, request: web.Request) -> web.Response | None:
        """403 PERMISSION_DENIED without a key; 400 API_KEY_INVALID for keys starting ``bad``/``invalid``."""
        key = request.headers.get("x-goog-api-key", "").strip() or request.query.get("key", "").strip()
        if not key:
            return self.error(403, _NO_KEY)
        if key.startswith(("bad", "invalid")):
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": _BAD_KEY,
                },
            ]
            body = {"error": {"code": 400, "message": _BAD_KEY, "status": "INVALID_ARGUMENT", "details": details}}
            return json_response(body, status=400)
        return None

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
        """The google.rpc error envelope; a RetryInfo detail when ``retry_after`` is given."""
        error: dict[str, Any] = {"code": status, "message": message, "status": error_type or _status(status)}
        hdrs = dict(headers or {})
        if retry_after is not None:
            hdrs["retry-after"] = retry_after_value(retry_after)
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after_value(retry_after)}s",
                }
            ]
        return json_response({"error": error}, status=status, headers=hdrs)

    def stream_error(self, status: int, message: str, error_type: str | None, seq: int) -> bytes:
        """``data: {"error": {...}}``."""
        return _frame({"error": {"code": status, "message": message, "status": error_type or _status(status)}})

    def garbage_stream(self) -> bytes:
        """SSE framing around data that is not JSON."""
        return b'data: {"candidates": [ this is not json\r\n\r\n'


WIRE = GeminiWire()


def _get(obj: Any, camel: str, snake: str) -> Any:
    if not isinstance(obj, dict):
        return None
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _response_text(response: Any) -> str:
    if isinstance(response, dict):
        for key in ("output", "result", "content", "text"):
            if isinstance(response.get(key), str):
                return str(response[key])
        return orjson.dumps(response).decode()
    return str(response) if response is not None else ""


def turn_text(contents: list[Any]) -> str:
    """Text of the trailing user turn: text parts and function responses after the last model turn."""
    collected: list[list[str]] = []
    for content in reversed(contents):
        if not isinstance(content, dict):
            continue
        if content.get("role") == "model":
            break
        texts: list[str] = []
        parts = content.get("parts")
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict) or part.get("thought"):
                continue
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            fr = _get(part, "functionResponse", "function_response")
            if isinstance(fr, dict):
                texts.append(_response_text(fr.get("response")))
        collected.append(texts)
    return "\n".join(t for texts in reversed(collected) for t in texts if t)


def validate(contents: Any, model: str) -> str | None:
    """The message Gemini would reject these contents with, if any."""
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified\n"
    current_turn = 0
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            return f"Invalid value at 'contents[{i}]'"
        if content.get("role") not in (None, "user", "model"):
            return "Please use a valid role: user, model."
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
        for j, part in enumerate(parts):
            fr = _get(part, "functionResponse", "function_response")
            if isinstance(fr, dict) and not isinstance(fr.get("response"), dict) and "response" in fr:
                value = orjson.dumps(fr.get("response")).decode()
                return (
                    f"Invalid value at 'contents[{i}].parts[{j}].function_response.response' "
                    f"(type.googleapis.com/google.protobuf.Struct), {value}"
                )
        if content.get("role") != "model" and any(isinstance(p, dict) and "text" in p for p in parts):
            current_turn = i
    if "gemini-3" in model:
        for i in range(current_turn, len(contents)):
            content = contents[i]
            if content.get("role") != "model":
                continue
            calls = [p for p in content["parts"] if isinstance(p, dict) and _get(p, "functionCall", "function_call")]
            if calls and not _get(calls[0], "thoughtSignature", "thought_signature"):
                name = _get(calls[0], "functionCall", "function_call").get("name")
                return (
                    "Function call is missing a thought_signature in functionCall parts. This is required "
                    "for tools to work correctly, and missing thought_signature may lead to degraded model "
                    f"performance. Additional data, function call `default_api:{name}` , position {i + 1}. "
                    "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures "
                    "for more details."
                )
    return None


class _Encoder:
    """Builds GenerateContentResponse objects for one plan."""

    def __init__(self, plan: Plan, visible_thoughts: bool, signed: bool) -> None:
        self.plan = plan
        self.visible = visible_thoughts
        self.signed = signed
        self.rid = f"mockresp{plan.serial:012d}"

    def usage(self, candidates: int | None = None, thoughts: int | None = None) -> dict[str, Any]:
        u = self.plan.usage
        cand = u.visible_output if candidates is None else min(candidates, u.visible_output)
        th = u.reasoning if thoughts is None else min(thoughts, u.reasoning)
        meta: dict[str, Any] = {
            "promptTokenCount": u.input,
            "candidatesTokenCount": cand,
            "totalTokenCount": u.input + cand + th,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.input}],
        }
        if th:
            meta["thoughtsTokenCount"] = th
        if u.cached:
            meta["cachedContentTokenCount"] = u.cached
        return meta

    def wrap(self, candidate: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": self.plan.model,
            "responseId": self.rid,
        }

    def blocked(self) -> dict[str, Any]:
        u = self.plan.usage
        return {
            "promptFeedback": {"blockReason": self.plan.blocked, "safetyRatings": _SAFETY},
            "usageMetadata": {
                "promptTokenCount": u.input,
                "totalTokenCount": u.input,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.input}],
            },
            "modelVersion": self.plan.model,
            "responseId": self.rid,
        }

    def safety(self) -> dict[str, Any]:
        return self.wrap({"finishReason": "SAFETY", "index": 0, "safetyRatings": _SAFETY}, self.usage())

    def finish(self) -> str:
        return {"length": "MAX_TOKENS", "refusal": "SAFETY"}.get(self.plan.finish, "STOP")

    def call_parts(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for call in self.plan.tool_calls:
            part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
            if self.signed and not parts:
                part["thoughtSignature"] = signature(call.name, call.arguments_json)
            parts.append(part)
        return parts

    def text_signature(self) -> str | None:
        if self.signed and not self.plan.tool_calls:
            return self.plan.reasoning_signature or signature(self.plan.text)
        return None

    def whole(self) -> dict[str, Any]:
        """The non-streamed response."""
        plan = self.plan
        if plan.blocked is not None:
            return self.blocked()
        if plan.refusal is not None:
            return self.safety()
        parts: list[dict[str, Any]] = []
        if self.visible and plan.reasoning:
            parts.append({"text": plan.reasoning, "thought": True})
        if plan.text or not plan.tool_calls:
            part: dict[str, Any] = {"text": plan.text}
            sig = self.text_signature()
            if sig:
                part["thoughtSignature"] = sig
            parts.append(part)
        parts.extend(self.call_parts())
        candidate = {"content": {"parts": parts, "role": "model"}, "finishReason": self.finish(), "index": 0}
        return self.wrap(candidate, self.usage())

    def chunks(self) -> list[dict[str, Any]]:
        """The streamed responses; usageMetadata is cumulative on each."""
        plan = self.plan
        if plan.blocked is not None:
            return [self.blocked()]
        if plan.refusal is not None:
            return [self.safety()]
        steps: list[tuple[list[dict[str, Any]], int, int]] = []
        thoughts = 0 if self.visible else plan.usage.reasoning
        if self.visible:
            for piece in plan.reasoning_pieces:
                thoughts += count_words(piece)
                steps.append(([{"text": piece, "thought": True}], 0, thoughts))
        words = 0
        for piece in plan.pieces:
            words += count_words(piece)
            steps.append(([{"text": piece}], words, thoughts))
        sig = self.text_signature()
        if sig and plan.pieces:
            steps[-1][0][0]["thoughtSignature"] = sig
        if plan.tool_calls:
            steps.append((self.call_parts(), plan.usage.visible_output, thoughts))
        if not plan.pieces and not plan.tool_calls:
            part: dict[str, Any] = {"text": ""}
            if sig:
                part["thoughtSignature"] = sig
            steps.append(([part], 0, thoughts))
        out: list[dict[str, Any]] = []
        for n, (parts, cand, th) in enumerate(steps):
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
            last = n == len(steps) - 1
            if last:
                candidate["finishReason"] = self.finish()
            out.append(self.wrap(candidate, self.usage() if last else self.usage(cand, th)))
        return out


def _thinking(body: dict[str, Any], model: str) -> tuple[bool, bool]:
    """(thinking active, thoughts requested) from generationConfig.thinkingConfig and the model name."""
    config = _get(_get(body, "generationConfig", "generation_config"), "thinkingConfig", "thinking_config")
    include = _get(config, "includeThoughts", "include_thoughts") is True
    budget = _get(config, "thinkingBudget", "thinking_budget")
    if budget == 0 and not include:
        return False, False
    by_model = ("gemini-2.5" in model and "lite" not in model) or "gemini-3" in model
    active = (
        include
        or by_model
        or (isinstance(config, dict) and bool(budget or _get(config, "thinkingLevel", "thinking_level")))
    )
    return active, include


async def _generate(ex: Exchange, model: str, stream: bool, sse_mode: bool) -> web.StreamResponse:
    body = ex.body
    contents = body.get("contents")
    problem = validate(contents, model)
    if problem:
        return WIRE.error(400, problem)
    resolved = ex.resolve(turn_text(contents))
    if isinstance(resolved, web.Response):
        return resolved
    directive, user_text = resolved
    early = await ex.preamble(directive, stream)
    if early is not None:
        return early
    serial = ex.state.next_serial()
    active, include = _thinking(body, model)
    config = _get(body, "generationConfig", "generation_config")
    plan = build_plan(
        directive,
        user_text,
        model=model,
        serial=serial,
        input_tokens=count_input([_get(body, "systemInstruction", "system_instruction"), contents]),
        max_tokens=as_int(_get(config, "maxOutputTokens", "max_output_tokens")),
        thinking=active,
    )
    encoder = _Encoder(plan, include or directive.reasoning is not None, active or plan.reasoning is not None)
    if not stream:
        return json_response(encoder.whole())
    items = encoder.chunks()
    if sse_mode:
        return await ex.stream([_frame(item) for item in items], directive, serial=serial)
    if directive.error_after is not None:
        status = directive.fail or 500
        message = directive.message or "Internal error encountered."
        items = items[: directive.error_after]
        items.append({"error": {"code": status, "message": message, "status": directive.error_type or _status(status)}})
        directive = msgspec.structs.replace(directive, error_after=None)
    frames = [(b",\r\n" if i else b"") + orjson.dumps(item) for i, item in enumerate(items)]
    return await ex.stream(frames, directive, serial=serial, content_type="application/json", prefix=b"[", suffix=b"]")


async def model_action(request: web.Request) -> web.StreamResponse:
    """``POST /{v1beta,v1}/models/{model}:{method}``."""
    name = request.match_info["name"]
    model, _, method = name.rpartition(":")
    ex = await begin(request, WIRE)
    if not isinstance(ex, Exchange):
        return ex
    from omnirouter.mock_upstream import media_gemini  # imports this module: load it late

    media = await media_gemini.dispatch(ex, model, method, request.query.get("alt") == "sse")
    if media is not None:
        return media
    if method == "generateContent":
        return await _generate(ex, model, False, False)
    if method == "streamGenerateContent":
        return await _generate(ex, model, True, request.query.get("alt") == "sse")
    if method == "countTokens":
        body = ex.body
        inner = _get(body, "generateContentRequest", "generate_content_request")
        if isinstance(inner, dict):
            system = _get(inner, "systemInstruction", "system_instruction")
            contents = inner.get("contents")
        else:
            system, contents = None, body.get("contents")
        total = count_input([system, contents])
        return json_response({"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]})
    return WIRE.error(404, f"Method not found: {method or name}", "NOT_FOUND")
