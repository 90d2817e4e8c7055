"""OpenAI Responses on both sides: forward bodies and stream events with only the model changed.

Stream events are forwarded with their ``event:`` line.  Only the lifecycle
events that carry the Response object (``response.created``, ``in_progress``,
``queued``, ``completed``, ``incomplete``, ``failed``) get the model renamed,
at the byte level; the terminal ones and ``error`` events are also parsed for
usage and failures.  Delta events are never parsed.  A request asking for
reasoning also asks for ``reasoning.encrypted_content`` (as the codec does), so
that its reasoning can be replayed statelessly whichever channel serves the next
turn; nothing else in the body changes.  When the gateway must end
a stream itself, it sends an ``error`` event and ``response.failed`` built from
the ``response.created`` it relayed.
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import ErrorKind, GatewayError, Usage
from omnirouter.protocols.base import PreparedBody
from omnirouter.protocols.json_patch import set_top_level_string
from omnirouter.protocols.limits import TEMPERATURE, TOKENS, TOP_P, check_nesting, check_numbers, client_json
from omnirouter.protocols.openai_responses.errors import error_event, response_error
from omnirouter.protocols.openai_responses.usage import usage_from_responses
from omnirouter.protocols.passthrough_rewrite import AnswerFacts
from omnirouter.protocols.sse import SSEEvent, frame

_LIFECYCLE = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)
_TERMINAL = frozenset({"response.completed", "response.incomplete"})
_ENCRYPTED = "reasoning.encrypted_content"
NUMBERS = (("max_output_tokens", TOKENS), ("temperature", TEMPERATURE), ("top_p", TOP_P))
"""The numeric request fields and their ranges (checked on every path, see :mod:`..limits`)."""
NESTED = ("tools", "text")
"""The fields whose nesting is limited (translation recurses into their JSON schemas)."""
_PARSED = frozenset({"response.created", "response.failed", "error"}) | _TERMINAL
ANSWER = AnswerFacts(
    model_key="model",
    usage_key="usage",
    read_usage=usage_from_responses,
    is_answer=lambda body: isinstance(body.get("output"), list),
)
"""Where a Response object names the model and carries usage."""


def _message(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    error = obj.get("error")
    if isinstance(error, dict):
        return _message(error) or "upstream reported an error"
    message = obj.get("message")
    return message if isinstance(message, str) and message else None


class OpenAIResponsesStreamFilter:
    """Relays one Responses stream, capturing usage and renaming the model."""

    __slots__ = ("_count", "_model", "_response", "answer", "completed", "failure", "usage")

    def __init__(self, public_model: str) -> None:
        self._model = ANSWER.renamer(public_model)
        self._count = 0
        self._response: dict[str, Any] | None = None
        self.usage: Usage | None = None
        self.failure: str | None = None
        self.completed = False
        self.answer: dict[str, Any] | None = None

    def process(self, event: SSEEvent) -> bytes:
        data, kind = event.data, event.event
        parsed: Any = None
        if kind is None or kind in _PARSED:
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                self.failure = "upstream sent a malformed stream event"
                return b""
            if kind is None and isinstance(parsed, dict) and isinstance(parsed.get("type"), str):
                kind = parsed["type"]
        self._count += 1
        if kind in _LIFECYCLE:
            data = self._model.rename(data)
        if isinstance(parsed, dict):
            self._inspect(kind, parsed)
        return frame(data, kind)

    def _inspect(self, kind: str | None, event: dict[str, Any]) -> None:
        response = event.get("response")
        if kind == "response.created" and isinstance(response, dict):
            self._response = response
        elif kind in _TERMINAL and isinstance(response, dict):
            usage = ANSWER.usage_of(response)
            if usage is not None:
                self.usage = usage
            self.answer = {**response, "model": self._model}  # as relayed: the model renamed
            self.completed = True
        elif kind == "response.failed":
            self.failure = _message(response) or "upstream response failed"
        elif kind == "error":
            self.failure = _message(event) or "upstream reported an error mid-stream"

    def finish(self) -> bytes:
        return b""

    def error(self, error: GatewayError) -> bytes:
        out = frame(orjson.dumps({**error_event(error), "sequence_number": self._count}), "error")
        self._count += 1
        if self._response is not None:
            response = {**self._response, "status": "failed", "model": self._model.name, "error": response_error(error)}
            failed = {"type": "response.failed", "response": response, "sequence_number": self._count}
            self._count += 1
            out += frame(orjson.dumps(failed), "response.failed")
        return out


class OpenAIResponsesPassthrough:
    """The pass-through adapter for the OpenAI Responses API."""

    def check(self, body: dict[str, Any]) -> None:
        check_numbers(body, NUMBERS)
        check_nesting(body, NESTED)
        value = body.get("input")
        if value is None:
            if any(body.get(k) for k in ("previous_response_id", "conversation", "prompt")):
                return
            raise GatewayError(ErrorKind.INVALID_REQUEST, "Missing required parameter: 'input'.", param="input")
        if isinstance(value, str):
            return
        if not isinstance(value, list):
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, "'input' must be a string or an array of input items.", param="input"
            )
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise GatewayError(
                    ErrorKind.INVALID_REQUEST, f"input[{index}] must be an object.", param=f"input[{index}]"
                )

    def prepare(
        self, body: dict[str, Any], upstream_model: str, stream: bool, raw: bytes | None = None
    ) -> PreparedBody:
        """The body with the upstream model; reasoning requests also ask for ``reasoning.encrypted_content``."""
        reasoning = body.get("reasoning")
        include = body.get("include")
        wants = (
            isinstance(reasoning, dict)
            and reasoning.get("effort") != "none"
            and reasoning.keys() & {"effort", "summary"}
        )
        if wants and (include is None or isinstance(include, list)) and _ENCRYPTED not in (include or ()):
            body = {**body, "model": upstream_model, "include": [*(include or ()), _ENCRYPTED]}
            return PreparedBody(client_json(body), True)
        return PreparedBody(set_top_level_string(raw, body, "model", upstream_model), True)

    def rewrite_response(self, body: bytes, public_model: str) -> tuple[bytes, Usage | None]:
        return ANSWER.rewrite(body, public_model)

    def new_stream_filter(self, public_model: str, client_wants_usage: bool) -> OpenAIResponsesStreamFilter:
        return OpenAIResponsesStreamFilter(public_model)


OPENAI_RESPONSES_PASSTHROUGH = OpenAIResponsesPassthrough()
