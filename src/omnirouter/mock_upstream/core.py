"""Shared machinery: app state, the request log, the per-request pipeline, stream writing."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream.directives import EMPTY, Directive, DirectiveError, ScriptQueue, extract
from omnirouter.mock_upstream.plan import pad


class LoggedRequest(dict[str, Any]):
    """One logged request: a JSON-able dict whose keys are also attributes (``entry.body``)."""

    __slots__ = ()

    @property
    def method(self) -> str:
        """HTTP method."""
        return str(self["method"])

    @property
    def path(self) -> str:
        """URL path, without the query string."""
        return str(self["path"])

    @property
    def query(self) -> dict[str, str]:
        """Query parameters."""
        value: dict[str, str] = self["query"]
        return value

    @property
    def headers(self) -> dict[str, str]:
        """Request headers with lower-cased names."""
        value: dict[str, str] = self["headers"]
        return value

    @property
    def body(self) -> Any:
        """The parsed JSON body (the raw text when it was not JSON, None when empty)."""
        return self["body"]

    @property
    def provider(self) -> str:
        """``openai``, ``anthropic`` or ``gemini``."""
        return str(self["provider"])

    @property
    def time(self) -> float:
        """Arrival time (``time.time()``)."""
        return float(self["time"])


HOLD_LIMIT = 30.0  # seconds a ``hold_after`` stream waits for its release at most


class State:
    """Per-app state: the request log, the script queue and the id counter."""

    def __init__(self, max_log: int = 10_000) -> None:
        self.requests: list[LoggedRequest] = []
        self.queue = ScriptQueue()
        self.max_log = max_log
        self.tasks: dict[str, Any] = {}  # asynchronous media tasks (BFL, DashScope) by id
        self.background: set[asyncio.Task[None]] = set()  # vendor callbacks being pushed (tasks_callbacks)
        self.held: list[asyncio.Future[None]] = []  # streams waiting at their ``hold_after`` point
        self._serial = itertools.count(1)

    async def hold(self) -> None:
        """Wait until :meth:`release` (at most ``HOLD_LIMIT`` seconds, so no stream is held forever)."""
        waiter = asyncio.get_running_loop().create_future()
        self.held.append(waiter)
        try:
            await asyncio.wait_for(waiter, HOLD_LIMIT)
        except TimeoutError:
            pass
        finally:
            if waiter in self.held:
                self.held.remove(waiter)

    def release(self) -> int:
        """Let every held stream go on; how many there were."""
        held, self.held = self.held, []
        for waiter in held:
            if not waiter.done():
                waiter.set_result(None)
        return len(held)

    def next_serial(self) -> int:
        """A new number for ids (deterministic for a fresh app)."""
        return next(self._serial)

    def log(self, entry: LoggedRequest) -> None:
        """Append to the request log, dropping the oldest entries beyond ``max_log``."""
        self.requests.append(entry)
        if len(self.requests) > 2 * self.max_log:
            del self.requests[: len(self.requests) - self.max_log]


STATE_KEY = web.AppKey("omnirouter_mock_state", State)
DIRECTIVE_KEY = web.RequestKey("omnirouter_mock_directive", Directive)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response serialized with orjson."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json", headers=headers)


class Wire:
    """One provider's conventions: auth, error bodies, stream framing of errors and garbage."""

    name = ""
    sse_content_type = "text/event-stream; charset=utf-8"

    def check_auth(self, request: web.Request) -> web.Response | None:
        """Return an error response when the request's key is missing or bad."""
        raise NotImplementedError

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
        """An error response in the provider's format."""
        raise NotImplementedError

    def stream_error(self, status: int, message: str, error_type: str | None, seq: int) -> bytes:
        """An error event sent in the middle of a stream."""
        raise NotImplementedError

    def garbage_stream(self) -> bytes:
        """A 200 stream body that is not valid JSON inside valid-looking SSE."""
        return b'data: {"id": "garbage", this is not json\n\nnot an sse line at all\n\n'

    def headers(self, serial: int) -> dict[str, str]:
        """Extra headers on every successful response."""
        return {}

    def fail(self, d: Directive) -> web.Response:
        """The response for a ``fail`` directive."""
        status = d.fail or 500
        headers: dict[str, str] = {}
        if d.should_retry is not None:
            headers["x-should-retry"] = "true" if d.should_retry else "false"
        message = d.message or _DEFAULT_MESSAGES.get(status, f"Mock failure with status {status}")
        if d.body_bytes:
            message = pad(message, d.body_bytes)
        return self.error(status, message, d.error_type, code=d.code, headers=headers, retry_after=d.retry_after)


_DEFAULT_MESSAGES = {
    400: "Invalid request (mock).",
    401: "Invalid authentication (mock).",
    403: "Permission denied (mock).",
    404: "Not found (mock).",
    408: "Request timed out (mock).",
    413: "Request too large (mock).",
    429: "Rate limit exceeded (mock).",
    500: "Internal server error (mock).",
    502: "Bad gateway (mock).",
    503: "Service unavailable (mock).",
    504: "Deadline exceeded (mock).",
    529: "Overloaded",
}


def retry_after_value(seconds: float) -> str:
    """Format a Retry-After header value."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


class Exchange:
    """One request in flight: its parsed body and the helpers every endpoint needs."""

    __slots__ = ("body", "request", "state", "wire")

    def __init__(self, request: web.Request, state: State, wire: Wire, body: Any) -> None:
        self.request = request
        self.state = state
        self.wire = wire
        self.body = body

    def resolve(self, turn_text: str) -> tuple[Directive, str] | web.Response:
        """The directive for this request (queued first, then in-prompt) and the cleaned user text."""
        queued = self.state.queue.pop()
        try:
            found, clean = extract(turn_text)
        except DirectiveError as exc:
            if queued is None:
                return self.wire.error(400, str(exc))
            found, clean = None, turn_text
        directive = queued or found or EMPTY
        self.request[DIRECTIVE_KEY] = directive  # for the trickle middleware
        return directive, clean.strip()

    async def preamble(self, d: Directive, stream: bool) -> web.StreamResponse | None:
        """Apply ``delay``, then answer ``fail`` or ``garbage`` directives."""
        if d.delay > 0:
            await asyncio.sleep(d.delay)
        if d.fail is not None and not (stream and d.error_after is not None):
            return self.wire.fail(d)
        if d.garbage:
            if stream:
                return web.Response(
                    body=self.wire.garbage_stream(), headers={"Content-Type": self.wire.sse_content_type}
                )
            return web.Response(
                body=b'{"id": "garbage", "object": <html>this is not json',
                headers={"Content-Type": "application/json"},
            )
        return None

    async def stream(
        self,
        frames: list[bytes],
        d: Directive,
        *,
        serial: int,
        content_type: str | None = None,
        prefix: bytes = b"",
        suffix: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        """Write ``frames`` as a streamed body, honouring chunk_delay, hold_after, cut_after and error_after."""
        headers = {**self.wire.headers(serial), **(headers or {})}
        headers["Content-Type"] = content_type or self.wire.sse_content_type
        headers["Cache-Control"] = "no-cache"
        resp = web.StreamResponse(status=200, headers=headers)
        await resp.prepare(self.request)
        cut = False
        if d.error_after is not None:
            status = d.fail or 500
            message = d.message or _DEFAULT_MESSAGES.get(status, "Internal server error (mock).")
            frames = frames[: d.error_after]
            frames.append(self.wire.stream_error(status, message, d.error_type, len(frames)))
            suffix = b""
        elif d.cut_after is not None:
            frames = frames[: d.cut_after]
            cut = True
        if d.unterminated_event_bytes is not None:  # one event the stream ends inside of, no blank line after it
            frames = [*frames[:1], pad("data:", d.unterminated_event_bytes).encode()]
            suffix = b""
        if d.first_chunk_delay > 0:
            await asyncio.sleep(d.first_chunk_delay)  # headers sent, the model is still "thinking"
        hold = d.hold_after
        if d.chunk_delay > 0 or hold is not None:
            if prefix:
                await resp.write(prefix)
            for i, frame in enumerate(frames):
                if i == hold:
                    await self.state.hold()
                elif i and d.chunk_delay > 0:
                    await asyncio.sleep(d.chunk_delay)
                await resp.write(frame)
            if hold is not None and hold >= len(frames):
                await self.state.hold()
            if suffix and not cut:
                await resp.write(suffix)
        else:
            body = prefix + b"".join(frames)
            if not cut:
                body += suffix
            await resp.write(body)
        if cut:
            await _abort(self.request)
            return resp
        await resp.write_eof()
        return resp


@web.middleware
async def trickle_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Send a plain answer or error body at the directive's ``trickle`` bytes per second."""
    response: web.StreamResponse = await handler(request)
    directive = request.get(DIRECTIVE_KEY)
    if directive is None or not directive.trickle or not isinstance(response, web.Response) or response.prepared:
        return response
    body = response.body
    assert isinstance(body, bytes)
    slow = web.StreamResponse(status=response.status, headers=response.headers)
    slow.content_length = len(body)
    step = max(1, int(directive.trickle / 10))  # about ten writes a second
    pause = step / directive.trickle
    try:
        await slow.prepare(request)
        for start in range(0, len(body), step):
            await slow.write(body[start : start + step])
            await asyncio.sleep(pause)
        await slow.write_eof()
    except ConnectionError:
        pass  # the client gave up waiting
    return slow


async def _abort(request: web.Request) -> None:
    """Close the connection abruptly once what was written has left the buffer."""
    transport = request.transport
    if transport is None:
        return
    for _ in range(200):
        if transport.is_closing() or not transport.get_write_buffer_size():
            break
        await asyncio.sleep(0.005)
    transport.abort()


def log_request(request: web.Request, provider: str, body: Any) -> None:
    """Append one request to the app's request log."""
    request.app[STATE_KEY].log(
        LoggedRequest(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": body,
                "provider": provider,
                "time": time.time(),
            }
        )
    )


async def begin(request: web.Request, wire: Wire) -> Exchange | web.Response:
    """Log the request, check its key and parse its JSON body."""
    state = request.app[STATE_KEY]
    raw = await request.read() if request.can_read_body else b""
    body: Any = None
    bad_json = False
    if raw:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            bad_json = True
    elif request.method == "POST":
        bad_json = True
    log_request(request, wire.name, raw.decode("utf-8", "replace") if bad_json and raw else body)
    denied = wire.check_auth(request)
    if denied is not None:
        return denied
    if bad_json:
        return wire.error(400, "We could not parse the JSON body of your request.")
    if request.method == "POST" and not isinstance(body, dict):
        return wire.error(400, "The request body must be a JSON object.")
    return Exchange(request, state, wire, body)


def sse(obj: Any, event: str | None = None) -> bytes:
    """One SSE frame with a JSON payload."""
    data = orjson.dumps(obj)
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def as_int(value: Any) -> int | None:
    """An int field of a request, or None when absent or not an int."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
