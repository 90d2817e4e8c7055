"""Token counting routes (Anthropic ``count_tokens``, Gemini ``countTokens``), estimated locally."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from omnirouter.gateway import Gateway
from omnirouter.http.asgi import JSON_HEADERS, Receive, Scope, Send, read_body, send_response
from omnirouter.http.json_body import parse_json_object
from omnirouter.protocols.base import Codec, ProtocolName
from omnirouter.usage.estimate import estimate_input_tokens


def _gemini_body(body: dict[str, Any]) -> dict[str, Any]:
    """``countTokens`` takes ``contents`` or a whole ``generateContentRequest``."""
    inner = body.get("generateContentRequest") or body.get("generate_content_request")
    return inner if isinstance(inner, dict) else body


async def handle_count_tokens(gateway: Gateway, codec: Codec, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with the estimated input tokens of the request body, in ``codec``'s shape.

    A ``GatewayError`` raised here is answered by the route table in the route's (``codec``'s) shape.
    """
    gateway.auth.authenticate(scope)
    body = parse_json_object(await read_body(receive, gateway.config.max_body_bytes, scope))
    if codec.name is ProtocolName.GEMINI:
        body = _gemini_body(body)
    elif "max_tokens" not in body:
        body = {**body, "max_tokens": 1}  # count_tokens bodies carry no max_tokens
    if codec.passthrough is not None:
        codec.passthrough.check(body)  # the input limits (nesting, numbers) of the chat routes
    request = codec.decode_request(body)
    tokens = estimate_input_tokens(msgspec.structs.replace(request, model=request.model or "count"))
    answer = {"totalTokens": tokens} if codec.name is ProtocolName.GEMINI else {"input_tokens": tokens}
    await send_response(send, 200, orjson.dumps(answer), JSON_HEADERS)
