"""OpenAI ``POST /v1/moderations``, both ways (no other vendor speaks it).

``input`` is a string, strings (one result each), or multimodal parts ``{type: text|image_url}`` (one
result for all of them); it goes upstream as sent.  ``model`` defaults to ``omni-moderation-latest`` when
the body has none: OpenAI's own default, so the gateway routes the public model of that name.

OpenAI reports no usage for moderation: a request counts one call (price it ``per_call``) and its text
as estimated input tokens (``estimated``).
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError, Usage
from omnirouter.ir.media import ModerationRequest, ModerationResult
from omnirouter.protocols.limits import client_json
from omnirouter.protocols.media.base import (
    Answer,
    Followup,
    Target,
    UpstreamCall,
    estimated_tokens,
    invalid,
    json_object,
)
from omnirouter.protocols.openai_chat.errors import decode_error, encode_error

__all__ = ["DEFAULT_MODERATION_MODEL", "OPENAI_MODERATIONS_IN", "OPENAI_MODERATIONS_UP"]

DEFAULT_MODERATION_MODEL = "omni-moderation-latest"
MAX_INPUTS = 2048


def _check_part(part: Any, index: int) -> None:
    param = f"input[{index}]"
    if not isinstance(part, dict):
        raise invalid(f"'{param}' must be a string or a {{type, ...}} part.", param)
    kind = part.get("type")
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise invalid(f"'{param}.text' must be a string.", f"{param}.text")
    elif kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://", "data:")):
            raise invalid(f"'{param}.image_url.url' must be an http(s) or data: URL.", f"{param}.image_url.url")
    else:
        raise invalid(f"'{param}.type' must be 'text' or 'image_url'.", f"{param}.type")


def _check_input(value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise invalid("'input' must be a string, an array of strings, or an array of parts.", "input")
    if len(value) > MAX_INPUTS:
        raise invalid(f"'input' may hold at most {MAX_INPUTS} items.", "input")
    strings = isinstance(value[0], str)
    for index, item in enumerate(value):
        if strings:
            if not isinstance(item, str):
                raise invalid(f"'input[{index}]' must be a string like the items before it.", f"input[{index}]")
        else:
            _check_part(item, index)


def input_texts(value: Any) -> list[str]:
    """The texts of a (checked) ``input``."""
    if isinstance(value, str):
        return [value]
    return [item if isinstance(item, str) else item.get("text", "") for item in value
            if isinstance(item, str) or item.get("type") == "text"]  # fmt: skip


def expected_results(value: Any) -> int:
    """Results OpenAI answers: one per string, one for a list of parts."""
    return len(value) if isinstance(value, list) and isinstance(value[0], str) else 1


class OpenAIModerationsInbound:
    """A client of ``POST /v1/moderations``."""

    protocol = "openai"

    def decode(self, body: bytes, content_type: str, model: str | None) -> ModerationRequest:
        parsed = parse_json_object(body)
        name = parsed.get("model", DEFAULT_MODERATION_MODEL)
        if not isinstance(name, str) or not name:
            raise invalid("'model' must be a string.", "model")
        if "input" not in parsed:
            raise invalid("'input' is required.", "input")
        _check_input(parsed["input"])
        return ModerationRequest(model=name, input=parsed["input"])

    def budget(self, request: ModerationRequest, body_size: int) -> Budget:
        return Budget(input_bytes=body_size, max_output=0, calls=1)

    def encode(self, result: ModerationResult, request: ModerationRequest, public_model: str) -> tuple[bytes, bytes]:
        answer: dict[str, Any] = {
            "id": result.id or "modr-omnirouter",
            "model": public_model,
            "results": result.results,
        }
        return orjson.dumps(answer), b"application/json"

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        return encode_error(error)


class OpenAIModerationsUpstream:
    """OpenAI's ``/moderations`` (under a base URL ending in ``/v1``)."""

    vendor = "the upstream"

    def build(self, request: ModerationRequest, target: Target) -> UpstreamCall:
        return UpstreamCall("/moderations", client_json({"model": target.upstream_model, "input": request.input}))

    def parse(
        self, answer: Answer, request: ModerationRequest, target: Target, step: Followup | None
    ) -> ModerationResult:
        parsed = json_object(answer.body, self.vendor)
        results = parsed.get("results")
        if (
            not isinstance(results, list)
            or len(results) != expected_results(request.input)
            or not all(isinstance(r, dict) and isinstance(r.get("categories"), dict) for r in results)
        ):
            raise GatewayError(
                ErrorKind.UPSTREAM, "the upstream returned moderation results that do not match the input"
            )
        usage = Usage(input_tokens=estimated_tokens(input_texts(request.input)), calls=1, estimated=True)
        served_id = parsed.get("id")
        return ModerationResult(results=results, usage=usage, id=served_id if isinstance(served_id, str) else None)

    def decode_error(self, status: int, body: bytes) -> GatewayError:
        return decode_error(status, body)


OPENAI_MODERATIONS_IN = OpenAIModerationsInbound()
OPENAI_MODERATIONS_UP = OpenAIModerationsUpstream()
