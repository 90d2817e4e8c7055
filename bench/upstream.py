"""A tiny, fast OpenAI upstream (chat, embeddings, speech) for the benchmark (raw asyncio + uvloop + httptools).

``POST /v1/chat/completions`` answers a canned completion, or with ``"stream": true`` a
50-chunk SSE stream (role chunk, 48 content chunks, finish chunk), then the usage chunk when
``stream_options.include_usage`` is set (with ``"usage": null`` in every other chunk, as OpenAI
does), then ``data: [DONE]``.  Each event is written on its own and the loop is yielded
between events, so events leave as separate TCP segments.

The per-chunk delay comes from the model name: ``*-paced`` waits ``--paced-delay`` (10 ms)
between events, ``*-slow`` waits ``--slow-delay`` (100 ms), ``*-ttfc`` sends the first event
alone (5 ms before the rest, for time-to-first-chunk measurements); anything else streams at once.
``POST /v1/embeddings`` answers like OpenAI: one unit vector per input (1536 dimensions, or the
``dimensions`` asked; seeded by the text, as the mock upstream does), ``encoding_format`` ``float``
(the API's default) as JSON numbers or ``base64`` as little-endian float32; answers are cached per
request, so the upstream stays cheap.  ``POST /v1/audio/speech`` answers ``--speech-bytes`` (200 KB)
of ``audio/mpeg`` in ``--speech-chunk`` (8 KB) HTTP chunks: the first at once, the others each after
``--speech-gap`` (1 ms).  A speech request whose ``input`` starts with ``[big]`` is answered
``--big-bytes`` (20 MiB) of ``audio/mpeg`` in 64 KiB chunks, as fast as the socket takes them (each
write waits while the transport's buffer is above its high-water mark): the large-answer scenario.
``POST /v1/images/generations`` answers an OpenAI ImagesResponse of about ``--big-bytes`` (one PNG as
``b64_json``, what OpenAI sends for gpt-image-1), with ``content-length``, poured the same way.
``GET /health`` answers 200; ``GET /stats`` the connections accepted and requests served.
Every response is keep-alive.  No auth check beyond presence.

Usage: ``python bench/upstream.py --port 9101``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import random
import signal
import sys
from array import array
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
_AUDIO_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: audio/mpeg\r\nx-request-id: req_bench\r\ntransfer-encoding: chunked\r\n\r\n"
)
_BAD = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 8\r\n\r\nbad json"


def _vector(text: str, dims: int) -> array[float]:
    """A unit-length float32 vector seeded by ``text`` (stdlib only; the mock upstream uses numpy)."""
    rng = random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little"))
    values = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return array("f", [v / norm for v in values])


def _le_bytes(vec: array[float]) -> bytes:
    """The vector as little-endian float32 bytes, OpenAI's base64 payload."""
    if sys.byteorder == "little":
        return vec.tobytes()
    swapped = array("f", vec)
    swapped.byteswap()
    return swapped.tobytes()


def _embeddings(req: dict[str, Any]) -> bytes | None:
    """OpenAI's embeddings answer to ``req``, or None for input it does not take."""
    texts = req.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        return None
    dims = req.get("dimensions") or 1536
    as_b64 = req.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vec = _vector(text, int(dims))
        value: Any = base64.b64encode(_le_bytes(vec)).decode() if as_b64 else vec.tolist()
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(len(t.split()) for t in texts)
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": str(req.get("model") or "text-embedding-3-small"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _cycle(step: int, start: int, size: int) -> bytes:
    """``size`` bytes ``(i * step + start) & 0xFF`` (period 256: one period repeated, fast for 20 MiB)."""
    period = bytes((i * step + start) & 0xFF for i in range(256))
    return (period * (size // 256 + 1))[:size]


def _audio_chunks(size: int, chunk: int) -> list[bytes]:
    """``size`` bytes of MPEG-looking audio (an ID3 tag, then frames) as HTTP/1.1 chunks, and the last chunk."""
    blob = b"ID3\x04\x00\x00\x00\x00\x00\x00" + _cycle(7, 3, size - 10)
    parts = [blob[i : i + chunk] for i in range(0, size, chunk)]
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in parts] + [b"0\r\n\r\n"]


BIG_CHUNK = 64 * 1024


class Canned:
    """Pre-rendered responses per (model, include_usage)."""

    def __init__(
        self,
        paced: float,
        slow: float,
        speech: tuple[int, int, float] = (200_000, 8192, 0.001),
        big_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.paced, self.slow = paced, slow
        self.audio = _audio_chunks(speech[0], speech[1])
        self.audio_gap = speech[2]
        self.big_bytes = big_bytes
        self._big: list[bytes] | None = None
        self._image: list[bytes] | None = None
        self._embeddings: dict[bytes, bytes] = {}
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

    def embeddings(self, raw: bytes, req: dict[str, Any]) -> bytes | None:
        """The whole HTTP answer to an embeddings request (cached by request body)."""
        out = self._embeddings.get(raw)
        if out is None:
            body = _embeddings(req)
            if body is None:
                return None
            out = self._embeddings[raw] = (_PLAIN_HEAD % len(body)) + body
        return out

    def big_image(self) -> list[bytes]:
        """The large ImagesResponse as a head and 64 KiB pieces of its body (rendered on first use)."""
        if self._image is None:
            raw = b"\x89PNG\r\n\x1a\n" + _cycle(13, 5, self.big_bytes * 3 // 4 - 8)
            body = (
                b'{"created":1700000000,"data":[{"b64_json":"'
                + base64.b64encode(raw)
                + b'"}],"usage":{"input_tokens":12,"output_tokens":4160,"total_tokens":4172,'
                b'"input_tokens_details":{"text_tokens":12,"image_tokens":0}}}'
            )
            head = _PLAIN_HEAD % len(body)
            self._image = [head] + [body[i : i + BIG_CHUNK] for i in range(0, len(body), BIG_CHUNK)]
        return self._image

    def big_audio(self) -> list[bytes]:
        """The large speech answer's HTTP chunks (rendered on first use: 20 MiB held once)."""
        if self._big is None:
            self._big = _audio_chunks(self.big_bytes, BIG_CHUNK)
        return self._big

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
        self.writable = asyncio.Event()
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        STATS["connections"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self.busy is not None:
            self.busy.cancel()
        self.writable.set()
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
        known = (b"/chat/completions", b"/embeddings", b"/audio/speech", b"/images/generations")
        if method != b"POST" or not path.endswith(known):
            transport.write(_NOT_FOUND)
            return
        raw = b"".join(self.body)
        try:
            req = orjson.loads(raw)
        except orjson.JSONDecodeError:
            transport.write(_BAD)
            return
        if path.endswith(b"/embeddings"):
            transport.write(self.canned.embeddings(raw, req) or _BAD)
            return
        if path.endswith(b"/audio/speech") and str(req.get("input", "")).startswith("[big]"):
            chunks = self.canned.big_audio()
            self.busy = asyncio.get_running_loop().create_task(self._pour(transport, chunks, _AUDIO_HEAD))
            return
        if path.endswith(b"/images/generations"):
            chunks = self.canned.big_image()
            self.busy = asyncio.get_running_loop().create_task(self._pour(transport, chunks[1:], chunks[0]))
            return
        if path.endswith(b"/audio/speech"):
            audio = self.canned.audio
            gaps = [0.0] + [self.canned.audio_gap] * (len(audio) - 2) + [0.0]
            self.busy = asyncio.get_running_loop().create_task(self._stream(transport, audio, gaps, _AUDIO_HEAD))
            return
        model = str(req.get("model") or "gpt-4o-mini")
        if not req.get("stream"):
            transport.write(self.canned.plain(model))
            return
        options = req.get("stream_options") or {}
        events = self.canned.stream(model, bool(options.get("include_usage")))
        delays = self.canned.delays(model, len(events))
        self.busy = asyncio.get_running_loop().create_task(self._stream(transport, events, delays))

    async def _stream(
        self, transport: asyncio.Transport, events: list[bytes], delays: list[float], head: bytes = _STREAM_HEAD
    ) -> None:
        transport.write(head)
        for event, delay in zip(events, delays, strict=False):
            if transport.is_closing():
                return
            await asyncio.sleep(delay)  # 0: let the event leave on its own
            transport.write(event)
        self.busy = None

    async def _pour(self, transport: asyncio.Transport, chunks: list[bytes], head: bytes) -> None:
        """``head``, then ``chunks`` as fast as the peer reads them (flow control: wait while paused)."""
        transport.write(head)
        for chunk in chunks:
            if not self.writable.is_set():
                await self.writable.wait()
            if transport.is_closing():
                return
            transport.write(chunk)
        self.busy = None


async def serve(
    host: str, port: int, paced: float, slow: float, speech: tuple[int, int, float], big_bytes: int
) -> None:
    canned = Canned(paced, slow, speech, big_bytes)
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
    parser.add_argument("--speech-bytes", type=int, default=200_000)
    parser.add_argument("--speech-chunk", type=int, default=8192)
    parser.add_argument("--speech-gap", type=float, default=0.001)
    parser.add_argument("--big-bytes", type=int, default=20 * 1024 * 1024)
    args = parser.parse_args()
    speech = (args.speech_bytes, args.speech_chunk, args.speech_gap)
    coro = serve(args.host, args.port, args.paced_delay, args.slow_delay, speech, args.big_bytes)
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


if __name__ == "__main__":
    main()
