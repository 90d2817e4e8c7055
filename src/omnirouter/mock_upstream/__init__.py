"""A deterministic stand-in for OpenAI, Anthropic and Gemini that speaks each real wire format.

Endpoints (each provider's real paths, JSON shapes, SSE framing, error bodies and statuses):

* OpenAI: ``POST /v1/chat/completions``, ``POST /v1/responses``, ``GET /v1/models[/{id}]``
  (key: ``Authorization: Bearer``).
* Anthropic: ``POST /v1/messages``, ``POST /v1/messages/count_tokens``, ``GET /v1/models``
  when ``anthropic-version``/``x-api-key`` is sent (key: ``x-api-key`` or Bearer; the
  ``anthropic-version`` header and ``max_tokens`` are required).
* Gemini: ``POST /{v1beta,v1}/models/{model}:generateContent | :streamGenerateContent
  [?alt=sse] | :countTokens``, ``GET /v1beta/models[/{model}]`` (key: ``x-goog-api-key`` or ``?key=``).

A missing key is 401 (Gemini: 403 PERMISSION_DENIED); a key starting with ``bad`` or ``invalid``
is 401 in the provider's format (Gemini: 400 INVALID_ARGUMENT, reason API_KEY_INVALID). Bad JSON
is 400. Conversations the real provider rejects are rejected the same way (e.g. an OpenAI
``tool_calls`` without ``tool`` answers, an Anthropic ``tool_use`` without ``tool_result`` next,
empty Anthropic text blocks, a Gemini ``functionResponse.response`` that is not an object, a
``gemini-3*`` function call replayed without its ``thoughtSignature``).

Control endpoints (no auth): ``GET /_mock/requests[?provider=]`` (the request log: method,
path, query, headers lower-cased, parsed JSON body, provider, time), ``DELETE /_mock/requests``,
``POST /_mock/script`` with ``{"directive": {...}, "times": K}``, ``GET|DELETE /_mock/script``,
``GET /_mock/health``. In process: ``MockUpstream.requests`` (``LoggedRequest`` dicts whose keys
are also attributes: ``mock.requests[-1].body``) and ``MockUpstream.script()``. Unknown paths are
logged too and answered 404; ``/`` and ``/_mock/*`` are not logged.

Scripting. By default the reply is ``"Echo: " + <user text>`` (``"Hello from mock"`` if empty),
where the user text is the trailing user turn (user messages and tool results after the last
assistant turn) with the directive removed. A directive scripts the reply:

1. in the prompt: ``[[mock {"text": "hi", "tool_calls": [...]}]]`` anywhere in the trailing user
   turn, in any protocol's shape, so it survives the gateway translating between protocols;
2. queued: ``POST /_mock/script`` applies to the next K generation requests of any provider
   and takes precedence over in-prompt directives (model listings and token counts do not
   consume it).

Directive keys (all optional; unknown keys or malformed JSON give a 400):

* ``text``: reply text. ``tool_calls``: ``[{"name", "arguments": {...}}]`` (several = parallel).
  Tools in the request without a directive still get a text reply.
* ``reasoning``: thinking text, with a deterministic signature (Anthropic thinking block with
  ``signature_delta``; Gemini ``thought: true`` part and ``thoughtSignature``; Responses reasoning
  item; Chat ``reasoning_content``). Also produced with default text when the request asks for
  it (Anthropic ``thinking`` enabled/adaptive, Gemini ``includeThoughts``, Responses
  ``reasoning.summary``); Gemini 2.5/3 models think (hidden) by default and sign function calls.
* ``refusal`` (true or a message): OpenAI ``refusal``, Anthropic ``stop_reason: refusal``, Gemini
  ``finishReason: SAFETY``. ``block`` (true or a reason): Gemini ``promptFeedback.blockReason``,
  OpenAI ``content_filter``, Responses incomplete/content_filter, Anthropic refusal.
* ``finish``: ``"length"`` gives each protocol's max-tokens stop (also automatic when the
  request's max tokens is below the reply's word count: the text is cut to that many words).
* ``fail``: HTTP status answered in the provider's error format, with ``message``,
  ``error_type``, ``code`` (OpenAI), ``retry_after`` (``Retry-After`` header; Gemini RetryInfo)
  and ``should_retry`` (``x-should-retry``).
* ``delay``: seconds before response headers. ``chunk_delay``: seconds between stream events.
  ``first_chunk_delay``: seconds between the stream's headers and its first event (a slow first token).
* ``cut_after``: abort the connection after N stream events, without a terminator.
* ``error_after``: after N stream events send the provider's in-stream error event (status
  from ``fail``, default 500) and end the stream.
* ``garbage``: 200 with a body that is not valid JSON (streams: SSE with non-JSON data).
* ``usage``: ``{"input", "output", "cached", "reasoning", "cache_write"}`` overrides, with OpenAI
  semantics: input includes cached (Anthropic ``input_tokens`` = input - cached - cache_write),
  output includes reasoning (Gemini ``candidatesTokenCount`` = output - reasoning).
* ``chunks``: split the text into this many stream chunks (default: word by word).
* ``no_usage``: OpenAI only, omit usage even when ``include_usage`` is asked (like llama.cpp).
* ``trickle``: send a plain answer or error body at this many bytes per second (Content-Length
  declared up front), like an upstream that stalls mid-answer.
* ``body_bytes``: pad to about this size with one long word: the reply text (plain answers; streams
  then carry it as one big event) or, with ``fail``, the error message.
* ``unterminated_event_bytes``: streams (SSE) send their first event, then one event of this many
  bytes (``data: xxx…``) with no blank line after it, and end.

Default token counts: input = sum of ``len(s) // 4 + 1`` over the text strings of the
conversation (system, messages, tool calls and results); output = words of the reply text +
words of ``name + arguments`` per tool call + words of the reasoning.
"""

from __future__ import annotations

from omnirouter.mock_upstream.core import LoggedRequest
from omnirouter.mock_upstream.directives import Directive, DirectiveError, parse_directive
from omnirouter.mock_upstream.runner import MockUpstream, serve
from omnirouter.mock_upstream.server import create_app

__all__ = [
    "Directive",
    "DirectiveError",
    "LoggedRequest",
    "MockUpstream",
    "create_app",
    "parse_directive",
    "serve",
]
