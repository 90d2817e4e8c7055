"""A tiny, fast OpenAI Chat Completions upstream for the benchmark (raw asyncio + uvloop + httptools).

``POST /v1/chat/completions`` answers a canned completion, or with ``"stream": true`` a
50-chunk SSE stream (role chunk, 48 content chunks, finish chunk), then the usage chunk when
``stream_options.include_usage`` is set (with ``"usage": null`` in every other chunk, as OpenAI
does), then ``data: [DONE]``.  Each event is written on its own and the loop is yielded
between events, so events leave as separate TCP segments.

The per-chunk delay comes from the model name: ``*-paced`` waits ``--paced-delay`` (10 ms)
between events, ``*-slow`` waits ``--slow-delay`` (100 ms), ``*-ttfc`` sends the first event
alone (5 ms before the rest, for time-to-first-chunk measurements); anything else streams at once.
``GET /health`` answers 200; ``GET /stats`` the connections accepted and requests served.
Every response is keep-alive.  No auth check beyond presence.

Usage: ``python bench/upstream.py --port 9101``
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import httptools
import orjson

CHUNKS = 50
CREATED = 1_700_000_000
WORDS = [f"tok{i} " for i in range(CHUNKS - 2)]
PROMPT_TOKENS, COMPLETION_TOKENS = 17, CHUNKS - 2
FIRST_ALONE = 0.005  # ``-ttfc`` models: pause after the first event


def _completion(model: str) -> bytes:
    text = "".join(WORDS[:12]).strip()
    return orjson.dumps(
        {
            "id": "chatcmpl-bench0000000000000000000001",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": 12,
                "total_tokens": PROMPT_TOKENS + 12,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
            "service_tier": "default",
        }
    )


def _chunk(model: str, delta: dict[str, Any], finish: str | None, usage_null: bool) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-bench0000000000000000000001",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage_null:
        chunk["usage"] = None
    return chunk


def _sse(obj: Any) -> bytes:
    data = b"data: " + orjson.dumps(obj) + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)  # one HTTP/1.1 chunk per SSE event


def _stream_events(model: str, include_usage: bool) -> list[bytes]:
    events = [_sse(_chunk(model, {"role": "assistant", "content": "", "refusal": None}, None, include_usage))]
    events += [_sse(_chunk(model, {"content": w}, None, include_usage)) for w in WORDS]
    events.append(_sse(_chunk(model, {}, "stop", include_usage)))
    if include_usage:
        events.append(
            _sse(
                {
                    "id": "chatcmpl-bench0000000000000000000001",
                    "object": "chat.completion.chunk",
                    "created": CREATED,
                    "model": model,
                    "system_fingerprint": "fp_bench",
                    "choices": [],
                    "usage": {
                        "prompt_tokens": PROMPT_TOKENS,
                        "completion_tokens": COMPLETION_TOKENS,
                        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
                    },
                }
            )
        )
    events.append(b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n")
    return events


_PLAIN_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\ncontent-length: %d\r\n\r\n"
)
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"x-request-id: req_bench\r\ntransfer-encoding: chunked\r\n\r\n"
)
_HEALTH = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"status":"ok"}'
STATS = {"connections": 0, "requests": 0}
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nnot found"
_BAD = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 8\r\n\r\nbad json"


class Canned:
    """Pre-rendered responses per (model, include_usage)."""

    def __init__(self, paced: float, slow: float) -> None:
        self.paced, self.slow = paced, slow
        self._plain: dict[str, bytes] = {}
        self._streams: dict[tuple[str, bool], list[bytes]] = {}

    def plain(self, model: str) -> bytes:
        out = self._plain.get(model)
        if out is None:
            body = _completion(model)
            out = self._plain[model] = (_PLAIN_HEAD % len(body)) + body
        return out

    def stream(self, model: str, include_usage: bool) -> list[bytes]:
        key = (model, include_usage)
        out = self._streams.get(key)
        if out is None:
            out = self._streams[key] = _stream_events(model, include_usage)
        return out

    def delays(self, model: str, count: int) -> list[float]:
        """Seconds to wait before each event."""
        if model.endswith("-slow"):
            return [self.slow] * count
        if model.endswith("-paced"):
            return [self.paced] * count
        if model.endswith("-ttfc"):
            return [0.0, FIRST_ALONE] + [0.0] * (count - 2)  # the first event leaves alone, the rest in a burst
        return [0.0] * count


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self, canned: Canned) -> None:
        self.canned = canned
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        self.busy: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        STATS["connections"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self.busy is not None:
            self.busy.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None:
            return
        method = self.parser.get_method()
        path = self.url.split(b"?", 1)[0]
        if method == b"GET" and path in (b"/health", b"/"):
            transport.write(_HEALTH)
            return
        if method == b"GET" and path == b"/stats":
            body = orjson.dumps(STATS)
            transport.write(_PLAIN_HEAD % len(body) + body)
            return
        STATS["requests"] += 1
        if method != b"POST" or not path.endswith(b"/chat/completions"):
            transport.write(_NOT_FOUND)
            return
        try:
            req = orjson.loads(b"".join(self.body))
        except orjson.JSONDecodeError:
            transport.write(_BAD)
            return
        model = str(req.get("model") or "gpt-4o-mini")
        if not req.get("stream"):
            transport.write(self.canned.plain(model))
            return
        options = req.get("stream_options") or {}
        events = self.canned.stream(model, bool(options.get("include_usage")))
        delays = self.canned.delays(model, len(events))
        self.busy = asyncio.get_running_loop().create_task(self._stream(transport, events, delays))

    async def _stream(self, transport: asyncio.Transport, events: list[bytes], delays: list[float]) -> None:
        transport.write(_STREAM_HEAD)
        for event, delay in zip(events, delays, strict=False):
            if transport.is_closing():
                return
            await asyncio.sleep(delay)  # 0: let the event leave on its own
            transport.write(event)
        self.busy = None


async def serve(host: str, port: int, paced: float, slow: float) -> None:
    canned = Canned(paced, slow)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(canned), host, port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"bench upstream on http://{host}:{port}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="fast OpenAI-compatible upstream for the benchmark")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9101)
    parser.add_argument("--paced-delay", type=float, default=0.010)
    parser.add_argument("--slow-delay", type=float, default=0.100)
    args = parser.parse_args()
    coro = serve(args.host, args.port, args.paced_delay, args.slow_delay)
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


if __name__ == "__main__":
    main()
