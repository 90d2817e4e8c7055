"""``GET /v1/realtime?model=…``: an OpenAI Realtime server over WebSocket, GA and beta.

The handshake is checked the way OpenAI does: the key from ``Authorization: Bearer`` or the browser
subprotocol ``openai-insecure-api-key.<key>`` (a missing or ``bad…``/``invalid…`` key is an HTTP 401 on
the upgrade, as OpenAI answers), ``realtime`` echoed when offered, ``model`` required.  The generation is
beta when the ``OpenAI-Beta: realtime=v1`` header or the ``openai-beta.realtime-v1`` subprotocol is sent;
a GA model (``gpt-realtime*``) sent the beta header answers an ``unknown_parameter`` error event (the
failure of BerriAI/litellm issue 18969).  A script-queue directive with ``fail`` refuses the upgrade with
that status (to test fallback); ``delay`` waits before answering it.

Azure's realtime routes come from ``providers/realtime.py`` (``add_vendor_realtime_routes``):
``/azure/openai/realtime?api-version=…&deployment=…`` (no ``api-version``: 404, as Azure answers) speaks
the preview's beta events whatever the headers; ``/azure-v1/openai/v1/realtime?model=…`` speaks GA (a
beta header gets the ``unknown_parameter`` error event).  Both check the ``api-key`` header (or the
``api-key`` query parameter) like the Azure chat mock: a missing or ``bad…`` key, or an
``Authorization`` header instead, is an HTTP 401.

Client events: ``session.update`` → ``session.updated`` (GA requires ``session.type``);
``input_audio_buffer.append`` / ``commit`` / ``clear``; ``conversation.item.create``; ``response.create``
→ ``response.created``, the output events of the session's modalities, ``response.done`` with ``usage``.
A ``[[mock {...}]]`` directive in the last user text or in ``response.instructions`` shapes one response:
``text``, ``chunks``, ``chunk_delay``, ``usage`` (input/output/cached), ``no_usage``, ``fail`` (an error
event instead), ``cut_after`` (close with 1011 after that many deltas).  Usage: input text tokens are the
words of the instructions and the conversation so far, input audio tokens one per 2,400 appended bytes
(50 ms of 24 kHz PCM16), cached tokens the previous response's input; output text tokens the reply's
words, output audio tokens 5 per audio delta.  Every handshake is logged (``provider`` ``openai``,
``azure`` or ``azure-v1``, ``path`` as dialled), its ``body`` the list of client events received,
``close_code`` the code the session closed with.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import time
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import orjson
from aiohttp import WSMsgType, web

from omnirouter.mock_upstream import realtime_events as ev
from omnirouter.mock_upstream.core import STATE_KEY, LoggedRequest, json_response
from omnirouter.mock_upstream.directives import Directive, DirectiveError, extract
from omnirouter.mock_upstream.openai_chat import WIRE, OpenAIWire
from omnirouter.mock_upstream.tokens import count_words, split_text
from omnirouter.mock_upstream.vendor_chat import VendorWire
from omnirouter.providers.realtime import REALTIME, RealtimeGeneration
from omnirouter.providers.vendors import chat_vendor

_KEY_PROTOCOL = "openai-insecure-api-key."
_BETA_PROTOCOL = "openai-beta.realtime-v1"
_AUDIO_BYTES_PER_TOKEN = 2400
_SILENCE = base64.b64encode(bytes(4800)).decode()  # 100 ms of 24 kHz PCM16


def _offered(request: web.Request) -> list[str]:
    raw = request.headers.get("Sec-WebSocket-Protocol", "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def _with_key(request: web.Request, offered: list[str]) -> web.Request:
    """The request, its subprotocol key moved to ``Authorization`` when no header carries one."""
    if request.headers.get("Authorization"):
        return request
    for protocol in offered:
        if protocol.startswith(_KEY_PROTOCOL):
            return request.clone(
                headers={**request.headers, "Authorization": f"Bearer {protocol[len(_KEY_PROTOCOL) :]}"}
            )
    return request


def is_ga_model(model: str) -> bool:
    """GA models (``gpt-realtime``, ``gpt-realtime-mini``, dated); the previews are beta-only."""
    return model.startswith("gpt-realtime")


class _Session:
    """One mock realtime session's state."""

    def __init__(self, ws: web.WebSocketResponse, model: str, beta: bool, log: list[Any]) -> None:
        self.ws = ws
        self.model = model
        self.beta = beta
        self.log = log
        self.settings: dict[str, Any] = {"id": ev.new_id("sess")}
        self.context_words = 0  # conversation text so far (user items and replies)
        self.audio_bytes = 0  # appended, committed or not
        self.pending_audio = 0
        self.last_text = ""
        self.previous_input = 0

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(event).decode())

    def session(self) -> dict[str, Any]:
        return ev.session_object(self.model, self.beta, self.settings)

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        client_id = event.get("event_id")
        if kind == "session.update":
            settings = event.get("session")
            if not isinstance(settings, dict):
                missing = "Missing required parameter: 'session'."
                await self.send(ev.error_event(missing, code="missing_required_parameter", event_id=client_id,
                                               param="session"))  # fmt: skip
                return
            if not self.beta and settings.get("type") not in ("realtime", "transcription"):
                await self.send(ev.error_event("Missing required parameter: 'session.type'.",
                                               code="missing_required_parameter", event_id=client_id,
                                               param="session.type"))  # fmt: skip
                return
            self.settings.update({k: v for k, v in settings.items() if k != "model"})
            await self.send(ev.event("session.updated", session=self.session()))
        elif kind == "input_audio_buffer.append":
            try:
                size = len(base64.b64decode(str(event.get("audio", "")), validate=True))
            except (binascii.Error, ValueError):
                await self.send(ev.error_event("Invalid 'audio'. Expected base64-encoded audio.",
                                               code="invalid_value", event_id=client_id, param="audio"))  # fmt: skip
                return
            self.pending_audio += size
        elif kind == "input_audio_buffer.commit":
            self.audio_bytes += self.pending_audio
            self.pending_audio = 0
            item_id = ev.new_id("item")
            await self.send(ev.event("input_audio_buffer.committed", previous_item_id=None, item_id=item_id))
        elif kind == "input_audio_buffer.clear":
            self.pending_audio = 0
            await self.send(ev.event("input_audio_buffer.cleared"))
        elif kind == "conversation.item.create":
            await self._item(event)
        elif kind == "response.create":
            response = event.get("response") if isinstance(event.get("response"), dict) else {}
            await self._respond(response or {})
        elif kind == "response.cancel":
            await self.send(ev.error_event("Cancellation failed: no active response found.",
                                           code="response_cancel_not_active", event_id=client_id))  # fmt: skip
        else:
            await self.send(ev.error_event(f"Invalid value: '{kind}'. Supported values are client events.",
                                           code="invalid_value", event_id=client_id, param="type"))  # fmt: skip

    async def _item(self, event: dict[str, Any]) -> None:
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        texts = [str(part.get("text", "")) for part in (item or {}).get("content") or [] if isinstance(part, dict)]
        text = " ".join(texts)
        self.last_text = text
        try:
            _, clean = extract(text)
        except DirectiveError:
            clean = text
        self.context_words += count_words(clean)
        stored = {"id": ev.new_id("item"), "object": "realtime.item", "status": "completed", **(item or {})}
        if self.beta:
            await self.send(ev.event("conversation.item.created", previous_item_id=None, item=stored))
        else:
            await self.send(ev.event("conversation.item.added", previous_item_id=None, item=stored))
            await self.send(ev.event("conversation.item.done", previous_item_id=None, item=stored))

    def _directive(self, response: dict[str, Any]) -> Directive | None:
        for text in (str(response.get("instructions") or ""), self.last_text):
            try:
                found, _ = extract(text)
            except DirectiveError:
                continue
            if found is not None:
                return found
        return None

    async def _respond(self, response: dict[str, Any]) -> None:
        d = self._directive(response) or Directive()
        if d.fail is not None:
            await self.send(ev.error_event(d.message or "The server had an error (mock).",
                                           d.error_type or "server_error", code=d.code))  # fmt: skip
            return
        modalities = ev.output_modalities(self.session(), response, self.beta)
        audio = "audio" in modalities
        response_id = ev.new_id("resp")
        item_id = ev.new_id("item")
        await self.send(ev.event("response.created", response=ev.response_object(response_id, "in_progress", [], None,
                                                                                 modalities, self.beta)))  # fmt: skip
        if d.delay:
            await asyncio.sleep(d.delay)
        reply = d.text if d.text is not None else "Hello from the realtime mock."
        pieces = split_text(reply, d.chunks) if reply else []
        common = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        item: dict[str, Any] = {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant",
                "status": "in_progress", "content": []}  # fmt: skip
        part = {"type": ev.part_type(self.beta, audio)}
        await self.send(ev.event("response.output_item.added", response_id=response_id, output_index=0, item=item))
        await self.send(ev.event("response.content_part.added", **common, part=part))
        delta_name, done_name = ev.names(self.beta, audio)
        audio_delta, audio_done = ev.audio_names(self.beta)
        for sent, piece in enumerate(pieces):
            if d.cut_after is not None and sent >= d.cut_after:
                await self.ws.close(code=1011, message=b"mock: connection cut")
                return
            if d.chunk_delay:
                await asyncio.sleep(d.chunk_delay)
            if audio:
                await self.send(ev.event(audio_delta, **common, delta=_SILENCE))
            await self.send(ev.event(delta_name, **common, delta=piece))
        if audio:
            await self.send(ev.event(audio_done, **common))
        await self.send(ev.event(done_name, **common, **({"transcript": reply} if audio else {"text": reply})))
        key = "transcript" if audio else "text"
        done_part = {**part, key: reply}
        await self.send(ev.event("response.content_part.done", **common, part=done_part))
        item = {**item, "status": "completed", "content": [done_part]}
        await self.send(ev.event("response.output_item.done", response_id=response_id, output_index=0, item=item))
        text_in = self.context_words + count_words(str(self.settings.get("instructions") or ""))
        audio_in = -(-self.audio_bytes // _AUDIO_BYTES_PER_TOKEN)
        text_out = count_words(reply)
        audio_out = 5 * len(pieces) if audio else 0
        cached = min(self.previous_input, text_in + audio_in)
        if d.usage is not None:
            text_in = d.usage.input if d.usage.input is not None else text_in
            text_out = d.usage.output if d.usage.output is not None else text_out
            cached = d.usage.cached if d.usage.cached is not None else cached
        usage = None if d.no_usage else ev.usage_object(text_in, audio_in, cached, text_out, audio_out)
        self.previous_input = text_in + audio_in
        self.context_words += count_words(reply)
        done = ev.response_object(response_id, "completed", [item], usage, modalities, self.beta)
        await self.send(ev.event("response.done", response=done))


class _Route(NamedTuple):
    """One realtime route of the mock: who it plays, how it checks the key, where the model is."""

    provider: str
    wire: OpenAIWire
    model_param: str  # ``model`` (OpenAI, Azure v1) or ``deployment`` (Azure)
    api_version: bool  # Azure's deployment URL needs ``api-version`` (else 404, as Azure answers)
    generations: frozenset[RealtimeGeneration]


def _with_api_key(request: web.Request) -> web.Request:
    """Azure takes the key in the ``api-key`` header or, as Microsoft documents, the ``api-key`` query."""
    key = request.query.get("api-key")
    if key and not request.headers.get("api-key"):
        return request.clone(headers={**request.headers, "api-key": key})
    return request


async def _serve(route: _Route, request: web.Request) -> web.StreamResponse:
    """The WebSocket upgrade of one realtime route, then one session."""
    state = request.app[STATE_KEY]
    offered = _offered(request)
    events: list[Any] = []
    entry = LoggedRequest({
        "method": request.method, "path": request.path, "query": dict(request.query),
        "headers": {k.lower(): v for k, v in request.headers.items()}, "body": events, "provider": route.provider,
        "time": time.time(), "close_code": None,
    })  # fmt: skip
    state.log(entry)
    scripted = state.queue.pop()
    if scripted is not None and scripted.delay:
        await asyncio.sleep(scripted.delay)
    if scripted is not None and scripted.fail is not None:
        return route.wire.fail(scripted)
    if route.provider == "openai":
        denied = route.wire.check_auth(_with_key(request, offered))
    else:
        denied = route.wire.check_auth(_with_api_key(request))
    if denied is not None:
        return denied
    if route.api_version and not request.query.get("api-version"):
        return route.wire.error(404, "Resource not found")
    model = request.query.get(route.model_param, "")
    if not model:
        return route.wire.error(400, f"Missing required parameter: '{route.model_param}'.",
                                code="missing_required_parameter")  # fmt: skip
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return json_response({"error": {"message": "Expected a WebSocket upgrade.", "type": "invalid_request_error",
                                        "param": None, "code": None}}, status=426)  # fmt: skip
    asked_beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "") or _BETA_PROTOCOL in offered
    # Azure: the URL decides (the deployment URL speaks the preview's beta events, v1 GA's)
    beta = RealtimeGeneration.BETA in route.generations if len(route.generations) == 1 else asked_beta
    ws = web.WebSocketResponse(protocols=("realtime",), max_msg_size=64 * 1024 * 1024)
    await ws.prepare(request)
    session = _Session(ws, model, beta, events)
    await session.send(ev.event("session.created", session=session.session()))
    # a deployment name says nothing of the model; OpenAI's GA names do
    ga_only = RealtimeGeneration.BETA not in route.generations or (len(route.generations) == 2 and is_ga_model(model))
    if asked_beta and ga_only and request.headers.get("OpenAI-Beta"):
        await session.send(ev.error_event("Unknown parameter: 'OpenAI-Beta: realtime=v1' is not supported for GA "
                                          "models.", code="unknown_parameter"))  # fmt: skip
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            try:
                event = orjson.loads(message.data)
            except orjson.JSONDecodeError:
                await session.send(ev.error_event("We could not parse the JSON body of your request.",
                                                  code="invalid_json"))  # fmt: skip
                continue
            if not isinstance(event, dict):
                await session.send(ev.error_event("The event must be a JSON object.", code="invalid_value"))
                continue
            events.append(event)
            await session.handle(event)
        elif message.type == WSMsgType.BINARY:
            await session.send(ev.error_event("Binary frames are not supported.", code="invalid_value"))
        else:
            break
    entry["close_code"] = ws.close_code
    return ws


_OPENAI = _Route("openai", WIRE, "model", False, frozenset(RealtimeGeneration))


async def realtime(request: web.Request) -> web.StreamResponse:
    """``GET /v1/realtime?model=…``: OpenAI's WebSocket upgrade, then one session."""
    return await _serve(_OPENAI, request)


def add_vendor_realtime_routes(router: web.UrlDispatcher) -> None:
    """The realtime routes of the vendors of ``providers/realtime.py`` under ``/{provider}`` plus the path
    of their chat base (``/azure/openai/realtime``, ``/azure-v1/openai/v1/realtime``), each with the
    vendor's auth header, model parameter, ``api-version`` rule and generations."""
    for kind, wire in REALTIME.items():
        vendor = chat_vendor(kind)
        if vendor is None:
            continue  # OpenAI itself: ``/v1/realtime``
        base = urlsplit(vendor.base_url).path.rstrip("/") if vendor.base_url else ""
        path, _, query = wire.path.partition("?")
        model_param = next(name for name, value in parse_qsl(query) if value == "{model}")
        route = _Route(kind.value, VendorWire(kind, vendor.auth), model_param, "{api_version}" in query,
                       wire.generations)  # fmt: skip
        router.add_get(f"/{kind.value}{base}{vendor.base_suffix}{path}", functools.partial(_serve, route))
