"""``GenerateContentResponse`` bodies ↔ IR :class:`ChatResponse`; finish reasons; usage.

Decisions on what does not map one to one:

* ``finishReason`` STOP (or none) with function calls → TOOL_CALLS; MAX_TOKENS
  → LENGTH; SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII and the
  IMAGE_* safety reasons → CONTENT_FILTER; LANGUAGE, OTHER,
  MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS, NO_IMAGE,
  IMAGE_OTHER → ERROR.  Encoding: tool calls end with STOP (Gemini's own
  convention), LENGTH → MAX_TOKENS, CONTENT_FILTER and REFUSAL → SAFETY,
  ERROR → OTHER, everything else → STOP.
* A prompt blocked by ``promptFeedback.blockReason`` (no candidates) is one
  empty choice ending CONTENT_FILTER; for a Gemini client it is encoded back
  as a blocked prompt only when the answer came from Gemini (``extra``).
* Usage: input = ``promptTokenCount`` (already includes cached content) +
  ``toolUsePromptTokenCount``; cached = ``cachedContentTokenCount``; output =
  ``candidatesTokenCount`` + ``thoughtsTokenCount`` (reasoning).  Encoding is
  the inverse (tool-use prompt tokens fold into the prompt); cache writes and
  ``estimated`` have no field.
* ``responseId`` ↔ id, ``modelVersion`` ↔ model.  Other top-level fields and the
  non-content fields of candidates (safety ratings, citations, grounding…) go to
  ``extra`` (``extra["candidates"]``) and come back only for Gemini-sourced answers.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from omnirouter.ir import ChatResponse, Choice, GatewayError, Part, StopReason, ToolCallPart, Usage, token_count
from omnirouter.protocols.common import bad_upstream
from omnirouter.protocols.gemini._shared import PROTOCOL, get, random_call_id
from omnirouter.protocols.gemini.content_decode import PartContext, decode_parts
from omnirouter.protocols.gemini.content_encode import encode_parts
from omnirouter.protocols.gemini.errors import read_error

_FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
_FAILED = frozenset(
    {
        "LANGUAGE",
        "OTHER",
        "MALFORMED_FUNCTION_CALL",
        "UNEXPECTED_TOOL_CALL",
        "TOO_MANY_TOOL_CALLS",
        "NO_IMAGE",
        "IMAGE_OTHER",
    }
)
_FINISH_BY_STOP: dict[StopReason, str] = {
    StopReason.LENGTH: "MAX_TOKENS",
    StopReason.CONTENT_FILTER: "SAFETY",
    StopReason.REFUSAL: "SAFETY",
    StopReason.ERROR: "OTHER",
}
_CANDIDATE_MAPPED = frozenset({"content", "finishReason", "finish_reason", "index"})
_TOP_MAPPED = frozenset({"candidates", "usageMetadata", "modelVersion", "responseId"})


def stop_from_finish(finish: Any, has_calls: bool) -> StopReason:
    """A ``finishReason`` (possibly absent) as a stop reason."""
    if finish == "MAX_TOKENS":
        return StopReason.LENGTH
    if finish in _FILTERED:
        return StopReason.CONTENT_FILTER
    if finish in _FAILED:
        return StopReason.ERROR
    return StopReason.TOOL_CALLS if has_calls else StopReason.END


def finish_for(stop: StopReason | None) -> str:
    """The ``finishReason`` to tell a Gemini client."""
    return _FINISH_BY_STOP.get(stop, "STOP") if stop is not None else "STOP"


def modality_tokens(details: Any) -> dict[str, int]:
    """A ``*TokensDetails`` list (``[{modality, tokenCount}]``) as tokens by upper-case modality."""
    counts: dict[str, int] = {}
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict):
            modality = item.get("modality")
            if isinstance(modality, str):
                key = modality.upper()
                counts[key] = counts.get(key, 0) + token_count(get(item, "tokenCount"))
    return counts


def usage_from_gemini(meta: dict[str, Any]) -> Usage:
    """Read ``usageMetadata``; tolerant of missing keys and odd types.  IMAGE / AUDIO tokens of
    ``promptTokensDetails`` / ``candidatesTokensDetails`` are the modality counts."""
    thoughts = token_count(get(meta, "thoughtsTokenCount"))
    prompt = modality_tokens(get(meta, "promptTokensDetails"))
    answer = modality_tokens(get(meta, "candidatesTokensDetails"))
    return Usage(
        input_tokens=token_count(get(meta, "promptTokenCount")) + token_count(get(meta, "toolUsePromptTokenCount")),
        output_tokens=token_count(get(meta, "candidatesTokenCount")) + thoughts,
        cached_tokens=token_count(get(meta, "cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        image_input_tokens=prompt.get("IMAGE", 0),
        audio_input_tokens=prompt.get("AUDIO", 0),
        image_output_tokens=answer.get("IMAGE", 0),
        audio_output_tokens=answer.get("AUDIO", 0),
    )


def _details(text: int, image: int, audio: int) -> list[dict[str, Any]]:
    counts = (("TEXT", text), ("IMAGE", image), ("AUDIO", audio))
    return [{"modality": name, "tokenCount": count} for name, count in counts if count > 0]


def usage_to_gemini(usage: Usage) -> dict[str, Any]:
    """Write ``usageMetadata`` (zero cached and thought counts are left out, as Gemini does); the
    modality details only when image or audio tokens are known (the rest counted as TEXT)."""
    candidates = max(0, usage.output_tokens - usage.reasoning_tokens)
    meta: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if usage.cached_tokens:
        meta["cachedContentTokenCount"] = usage.cached_tokens
    if usage.reasoning_tokens:
        meta["thoughtsTokenCount"] = usage.reasoning_tokens
    image_in, audio_in = usage.image_input_tokens, usage.audio_input_tokens
    if image_in or audio_in:
        text = max(0, usage.input_tokens - image_in - audio_in)
        meta["promptTokensDetails"] = _details(text, image_in, audio_in)
    image_out, audio_out = usage.image_output_tokens, usage.audio_output_tokens
    if image_out or audio_out:
        text = max(0, candidates - image_out - audio_out)
        meta["candidatesTokensDetails"] = _details(text, image_out, audio_out)
    return meta


def is_blocked(body: dict[str, Any]) -> bool:
    """Whether a response (or chunk) reports a blocked prompt."""
    feedback = get(body, "promptFeedback")
    return isinstance(feedback, dict) and bool(get(feedback, "blockReason"))


def _decode_candidate(raw: Any, position: int, ctx: PartContext) -> tuple[Choice, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise bad_upstream(f"candidates[{position}] is not an object")
    content = raw.get("content")
    parts_raw = content.get("parts") if isinstance(content, dict) else None
    items = [(p, f"candidates[{position}].content.parts[{j}]") for j, p in enumerate(parts_raw or [])]
    parts: list[Part] = decode_parts(items, ctx) if isinstance(parts_raw, list) else []
    index = raw.get("index")
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    choice = Choice(
        index=index if isinstance(index, int) and not isinstance(index, bool) else position,
        content=parts,
        stop_reason=stop_from_finish(get(raw, "finishReason"), has_calls),
    )
    return choice, {k: v for k, v in raw.items() if k not in _CANDIDATE_MAPPED}


def decode_response(body: dict[str, Any]) -> ChatResponse:
    """An upstream's answer; a malformed one raises ``GatewayError(UPSTREAM)``."""
    if not isinstance(body, dict):
        raise bad_upstream("upstream response is not a JSON object")
    candidates = body.get("candidates")
    if candidates is None and body.get("error"):
        message = read_error(body)[0]
        raise bad_upstream(f"upstream returned an error: {message or orjson.dumps(body).decode()[:500]}")
    extra = {k: v for k, v in body.items() if k not in _TOP_MAPPED}
    if not candidates and is_blocked(body):
        choices = [Choice(index=0, content=[], stop_reason=StopReason.CONTENT_FILTER)]
    elif isinstance(candidates, list):
        ctx = PartContext(from_client=False)
        try:
            decoded = [_decode_candidate(raw, i, ctx) for i, raw in enumerate(candidates)]
        except GatewayError as error:
            raise bad_upstream(f"malformed upstream response: {error.message}") from None
        choices = [choice for choice, _ in decoded]
        leftovers = [rest for _, rest in decoded]
        if any(leftovers):
            extra["candidates"] = leftovers
    else:
        raise bad_upstream("upstream response has no 'candidates' array")
    response_id, model, meta = body.get("responseId"), body.get("modelVersion"), body.get("usageMetadata")
    return ChatResponse(
        id=response_id if isinstance(response_id, str) and response_id else random_call_id()[5:],
        model=model if isinstance(model, str) else "",
        created=int(time.time()),
        choices=choices,
        usage=usage_from_gemini(meta) if isinstance(meta, dict) else None,
        extra=extra,
        source_protocol=PROTOCOL,
    )


def encode_candidate(choice: Choice) -> dict[str, Any]:
    """One choice as a candidate; an empty answer still has one empty text part (SDK chats need it)."""
    parts = encode_parts(choice.content, for_client=True)
    candidate: dict[str, Any] = {}
    if parts or choice.stop_reason is not StopReason.CONTENT_FILTER:
        candidate["content"] = {"role": "model", "parts": parts or [{"text": ""}]}
    candidate["finishReason"] = finish_for(choice.stop_reason)
    candidate["index"] = choice.index
    return candidate


def encode_response(response: ChatResponse) -> dict[str, Any]:
    """A ``GenerateContentResponse`` body for a client (``modelVersion`` is the IR model)."""
    same = response.source_protocol == PROTOCOL
    extra = dict(response.extra) if same else {}
    leftovers = extra.pop("candidates", None)
    body: dict[str, Any] = extra
    if not (same and is_blocked(body) and all(not c.content for c in response.choices)):
        candidates = [encode_candidate(c) for c in response.choices]
        if isinstance(leftovers, list):
            for candidate, rest in zip(candidates, leftovers, strict=False):
                if isinstance(rest, dict):
                    candidate.update({k: v for k, v in rest.items() if k not in candidate})
        body["candidates"] = candidates
    if response.usage is not None:
        body["usageMetadata"] = usage_to_gemini(response.usage)
    body["modelVersion"] = response.model
    body["responseId"] = response.id
    return body
