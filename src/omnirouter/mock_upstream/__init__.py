"""A deterministic stand-in for OpenAI, Anthropic, Gemini and media vendors that speaks each real wire format.

Endpoints (each provider's real paths, JSON shapes, SSE framing, error bodies and statuses):

* OpenAI: ``POST /v1/chat/completions``, ``POST /v1/responses``, ``GET /v1/models[/{id}]``
  (key: ``Authorization: Bearer``).
* Anthropic: ``POST /v1/messages``, ``POST /v1/messages/count_tokens``, ``GET /v1/models``
  when ``anthropic-version``/``x-api-key`` is sent (key: ``x-api-key`` or Bearer; the
  ``anthropic-version`` header and ``max_tokens`` are required).
* Gemini: ``POST /{v1beta,v1}/models/{model}:generateContent | :streamGenerateContent
  [?alt=sse] | :countTokens``, ``GET /v1beta/models[/{model}]`` (key: ``x-goog-api-key`` or ``?key=``).
* OpenAI-compatible chat vendors (``providers/vendors.py``): ``POST /{provider}`` + the path of the
  vendor's base URL + ``/chat/completions`` (``/deepseek/chat/completions``, ``/moonshot/v1/...``,
  ``/azure/openai/deployments/{model}/chat/completions?api-version=...``), each in its dialect
  (``vendor_chat.py``: auth header, reasoning field or ``<think>`` tags, thinking switch, usage extras).

Media endpoints (modules ``media_*``; real media bytes from ``media_bytes``: PNG/JPEG/WebP that
Pillow opens, WAV/MP3/FLAC/Ogg-Opus that soundfile decodes, raw 16-bit PCM; audio lasts about one
second per 15 characters of input):

* OpenAI (Bearer): ``POST /v1/embeddings`` (float or base64 little-endian float32, deterministic
  unit vectors, ``dimensions``), ``/v1/moderations`` (13 categories; words such as "kill" flag),
  ``/v1/audio/speech`` (chunked mp3/wav/flac/opus/pcm; ``aac`` is a 400; ``stream_format: sse``),
  ``/v1/audio/transcriptions`` and ``/v1/audio/translations`` (multipart ``file``; duration measured
  from the file; transcript ``"Mock transcript of <filename> (<s> seconds)."`` or the directive's
  ``text``; SSE with ``stream=true`` for non-whisper models), ``/v1/images/generations`` and
  ``/v1/images/edits`` (multipart ``image``/``image[]``/``mask`` file parts, or JSON ``images``).
* Gemini: ``models/{m}:embedContent``, ``:batchEmbedContents``, ``:predict`` (imagen-*), and
  ``:generateContent``/``:streamGenerateContent`` with ``responseModalities`` IMAGE or AUDIO.
* Rerank. Cohere, Jina and Voyage all live at ``/v1/rerank`` on their own hosts, so a channel's
  base URL carries the vendor as a path prefix: ``http://mock/cohere`` -> ``/cohere/v1/rerank`` and
  ``/cohere/v2/rerank`` (unprefixed ``/v1/rerank``, ``/v2/rerank`` are Cohere too),
  ``http://mock/jina`` -> ``/jina/v1/rerank``, ``http://mock/voyage`` -> ``/voyage/v1/rerank``.
  DashScope: ``/api/v1/services/rerank/text-rerank/text-rerank``. Scores = query-word overlap.
* Search: serper.dev ``GET|POST /search``, ``/images``, ``/news`` (``X-API-KEY`` or ``?apiKey=``; a JSON
  query object, a batch array, or query-string parameters; ``search_serper``).
* Speech: MiniMax ``POST /v1/t2a_v2``; Volcengine ``POST /api/v1/tts`` (``Authorization:
  Bearer;<token>``) and ``POST /api/v3/tts/unidirectional`` (``X-Api-App-Id``, ``X-Api-Access-Key``,
  ``X-Api-Resource-Id``); DashScope qwen-tts ``POST /api/v1/services/aigc/multimodal-generation/
  generation`` (``X-DashScope-SSE: enable`` streams); ElevenLabs ``POST /v1/text-to-speech/{voice}
  [/stream]?output_format=`` (``xi-api-key``).
* Images: Ark Seedream ``POST /api/v3/images/generations``; BFL ``POST /v1/flux-*`` (``x-key``) then
  ``GET /v1/get_result?id=``; DashScope wanx ``POST /api/v1/services/aigc/text2image/image-synthesis``
  (``X-DashScope-Async: enable``) then ``GET /api/v1/tasks/{id}``. Tasks stay pending
  ``pending_polls`` polls (default 2); polls take no directive from the queue.
* Video tasks (``tasks_video_a`` and ``tasks_video_b*``; the shared timeline and result files in
  ``tasks_video``; real H.264 MP4s from ``media_video`` that PyAV decodes, JPEG/WebP stills). Kling
  ``POST /v1/videos/{text2video,image2video}``, ``GET /v1/videos/{action}/{task_id or
  external_task_id}`` (HS256 JWT; the secret of access key AK is ``mock_secret(AK)``, ``tasks_wires_a``);
  Vidu ``POST /ent/v2/{text2video,img2video,start-end2video,reference2video}``, ``GET
  /ent/v2/tasks/{id}/creations`` (``Token``); MiniMax ``POST /v1/video_generation``, ``GET
  /v1/query/video_generation?task_id=``, ``GET /v1/files/retrieve?file_id=``; Ark ``POST
  /api/v3/contents/generations/tasks``, ``GET|DELETE …/tasks/{id}``; Jimeng ``POST
  /?Action=CVSync2AsyncSubmitTask|CVSync2AsyncGetResult&Version=2022-08-31`` (Volcengine V4 checked);
  OpenAI Sora (Bearer) ``POST /v1/videos`` (JSON or multipart ``input_reference``), ``GET
  /v1/videos[/{id}]``, ``DELETE /v1/videos/{id}``, ``GET /v1/videos/{id}/content?variant=video|thumbnail|
  spritesheet`` (with the key), ``POST /v1/videos/{id}/remix``; Gemini Veo ``POST /v1beta/models/{m}:
  predictLongRunning``, ``GET /v1beta/models/{m}/operations/{id}``, ``GET /v1beta/files/{id}:download``
  (key as header or ``?key=``); DashScope Wan ``POST /api/v1/services/aigc/video-generation/video-synthesis``
  (``X-DashScope-Async: enable``), ``GET /api/v1/tasks/{id}``, ``POST /api/v1/tasks/{id}/cancel`` (PENDING
  only); Tencent VCLM ``POST /`` with ``X-TC-Action`` ``SubmitHunyuanToVideoJob`` /
  ``DescribeHunyuanToVideoJob`` (TC3-HMAC-SHA256 checked; the SecretKey of SecretId ``X`` is ``X-secret``;
  errors in an HTTP 200 ``Response.Error``); PixVerse (``API-KEY``, ``Ai-trace-id``: a repeated one
  answers the earlier video or upload) ``POST /openapi/v2/image/upload`` (multipart ``image`` file or
  ``image_url``; ``Resp.img_id``), ``POST /openapi/v2/video/{text,img}/generate`` (``img`` only with an
  ``img_id`` uploaded there), ``GET /openapi/v2/video/result/{id}``. Keyless results: ``GET
  /media/tasks/{token}/{video.mp4,cover.jpeg,last_frame.jpeg}``. Every vendor's timeline is scripted by
  the submit's directive with the same keys (``pending_polls``, ``poll_faults``, ``body_error`` +
  ``message``, ``delay``, ``media_fetches``, ``media_ttl``: below); polls take none.
* Midjourney (``tasks_midjourney``, ``tasks_midjourney_plus``): a midjourney-proxy (``mj-api-secret``;
  the plus API's 401 ``Authorization header missing.``) under ``/mj``, ``/mj-{fast,turbo,relax}/mj``:
  ``/submit/{imagine,blend,describe,shorten,change,simple-change,action,modal,edits,video,
  upload-discord-images}``, ``/insight-face/swap``, ``/task/{id}/fetch``, ``/task/list-by-condition``,
  ``/task/{id}/image-seed``; keyless ``GET /mj/image/{id}[/{0-3}]`` (PNG grids and their images),
  ``/mj/video/{id}/{n}.mp4|.webp`` and ``/mj/attachments/{n}/{name}`` (uploads).
* Image tasks (``tasks_images``, on the same timeline): Kling ``POST /v1/images/generations`` (a JWT bearer
  tells it from OpenAI's) and ``POST /v1/images/omni-image``, ``GET /v1/images/{generations,omni-image}/
  {task_id or external_task_id}`` (``n`` PNGs in ``task_result.images``); Tencent MPS ``POST /`` with
  ``X-TC-Action`` ``CreateAigcImageTask`` (Version ``2019-06-12``; ``SceneType 3d_panorama``: a 2:1 JPEG) /
  ``DescribeAigcImageTask`` (TC3 checked as for VCLM). Keyless results: ``GET /media/task-images/{token}/
  {index}.{png,jpeg}``.
* ``GET /media/{name}``: the files behind the URLs these answers carry (no auth; logged with
  provider ``media``).

Multipart requests are logged as ``{"multipart": true, "fields": {name: value or [values]},
"files": [{"field", "filename", "content_type", "size", "sha256"}]}``. Media requests rarely carry a
prompt: queue directives with ``POST /_mock/script`` (an in-prompt ``[[mock ...]]`` in the input,
prompt or query text works too).

A missing key is 401 (Gemini: 403 PERMISSION_DENIED); a key starting with ``bad`` or ``invalid``
is 401 in the provider's format (Gemini: 400 INVALID_ARGUMENT, reason API_KEY_INVALID). Bad JSON
is 400. Conversations the real provider rejects are rejected the same way (e.g. an OpenAI
``tool_calls`` without ``tool`` answers, an Anthropic ``tool_use`` without ``tool_result`` next,
empty Anthropic text blocks, a Gemini ``functionResponse.response`` that is not an object, a
``gemini-3*`` function call replayed without its ``thoughtSignature``).

Control endpoints (no auth): ``GET /_mock/requests[?provider=]`` (the request log: method,
path, query, headers lower-cased, parsed JSON body, provider, time), ``DELETE /_mock/requests``,
``POST /_mock/script`` with ``{"directive": {...}, "times": K}``, ``GET|DELETE /_mock/script``,
``POST /_mock/release`` (streams held by ``hold_after``), ``GET /_mock/health``. In process:
``MockUpstream.requests`` (``LoggedRequest`` dicts whose keys
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
  ``hold_after``: send N stream events, then wait until ``POST /_mock/release`` (``MockUpstream.release()``;
  it answers how many streams it let go) before the rest, at most 30 s: a test can see what a client
  got from the first events while the upstream has sent nothing more.
* ``cut_after``: abort the connection after N stream events, without a terminator (a plain OpenAI
  ImagesResponse: after N 64 KiB pieces of its JSON body).
* ``error_after``: after N stream events send the provider's in-stream error event (status
  from ``fail``, default 500) and end the stream.
* ``garbage``: 200 with a body that is not valid JSON (streams: SSE with non-JSON data).
* ``usage``: ``{"input", "output", "cached", "reasoning", "cache_write", "cache_write_1h"}`` overrides
  (``cache_write_1h``: the part of ``cache_write`` Anthropic reports as 1-hour writes), with OpenAI
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
* ``body_error`` (true, or a vendor code): an error inside an HTTP 200 body, with the vendor's real
  fields: MiniMax ``base_resp.status_code`` (default 1004), Volcengine v1 ``code`` (3001), v3 a
  ``code`` line other than 0/20000000 after the first chunk (45000001), DashScope ``{code, message,
  request_id}`` (InvalidParameter; async tasks end FAILED with it), Ark a failed item in ``data``,
  BFL a final status (``Content Moderated``).
* ``media_bytes``: grow the media payload to about this many bytes, still decodable (PNG private
  chunk, JPEG comments, WAV/PCM silence, MP3 ID3 padding, FLAC PADDING; others trailing bytes).
* ``media_seconds``: length of generated audio (transcriptions: the reported duration).
* ``pending_polls``: polls an asynchronous image or video task answers pending before it finishes.
* ``poll_faults``: video tasks answer these first, one per poll: ``"not_found"`` (the vendor's
  no-such-task answer), ``"unknown"`` (a status the vendor does not document: ``mock_unknown_state``
  where its status is a string), ``500`` (an HTML page), ``429`` (the vendor's rate-limit error,
  ``Retry-After: 1``) or another HTTP status (the vendor's error JSON).
* ``media_fetches`` / ``media_ttl``: a video task's result files answer 404 after that many fetches
  / that many seconds after the task finished. ``delay`` on a video submit makes the task before
  waiting (a client that timed out left a task); ``body_error`` (true, or the vendor's failure code;
  ``message`` the reason) ends it in the vendor's failure.

On binary audio bodies ``error_after`` cuts the connection like ``cut_after`` (no error event fits).

Default token counts: input = sum of ``len(s) // 4 + 1`` over the text strings of the
conversation (system, messages, tool calls and results); output = words of the reply text +
words of ``name + arguments`` per tool call + words of the reasoning.
"""

from __future__ import annotations

from omnirouter.mock_upstream.core import LoggedRequest
from omnirouter.mock_upstream.directives import Directive, DirectiveError, directive, parse_directive
from omnirouter.mock_upstream.runner import MockUpstream, serve
from omnirouter.mock_upstream.server import create_app

__all__ = [
    "Directive",
    "DirectiveError",
    "LoggedRequest",
    "MockUpstream",
    "create_app",
    "directive",
    "parse_directive",
    "serve",
]
