"""Gemini output read by the official google-genai SDK, served through ``httpx2.MockTransport``."""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx
from google import genai
from google.genai import types

MODEL = "public-gemini"


class Served:
    """Answers each SDK request with the next prepared body and records the request bodies."""

    def __init__(self, *bodies: bytes, status: int = 200, content_type: str = "text/event-stream") -> None:
        self.bodies = list(bodies)
        self.status = status
        self.content_type = content_type
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(
            {"path": request.url.path, "query": request.url.query, "body": json.loads(request.content)}
        )
        return httpx.Response(self.status, content=self.bodies.pop(0), headers={"content-type": self.content_type})


def sdk_client(served: Served) -> genai.Client:
    http = httpx.AsyncClient(transport=httpx.MockTransport(served))
    options = types.HttpOptions(
        base_url="http://gateway.test",
        api_version="v1beta",
        httpx_async_client=http,
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key="AIza-test", http_options=options)


async def stream_through_sdk(body: bytes) -> list[types.GenerateContentResponse]:
    served = Served(body)
    client = sdk_client(served)
    chunks = [c async for c in await client.aio.models.generate_content_stream(model=MODEL, contents="hi")]
    assert served.requests[0]["path"] == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert "alt=sse" in served.requests[0]["query"].decode()
    return chunks
