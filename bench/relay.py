"""The minimal relay: raw ASGI on uvicorn + one aiohttp session, no auth, no accounting.
The practical floor for any Python gateway.  A JSON answer is read whole; anything else (SSE,
audio) is relayed chunk by chunk as it arrives.  ``RELAY_UPSTREAM=http://127.0.0.1:9101
uvicorn bench.relay:app --loop uvloop --http httptools --no-access-log``"""

import os

import aiohttp

UPSTREAM = os.environ.get("RELAY_UPSTREAM", "http://127.0.0.1:9101")
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-upstream-bench"}
session: aiohttp.ClientSession | None = None


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    global session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                await send({"type": "lifespan.startup.complete"})
            else:
                await session.close()
                return await send({"type": "lifespan.shutdown.complete"})
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    async with session.post(UPSTREAM + scope["path"], data=body, headers=HEADERS) as resp:
        ctype = resp.headers.get("content-type", "application/json").encode()
        await send({"type": "http.response.start", "status": resp.status, "headers": [(b"content-type", ctype)]})
        if ctype.startswith(b"application/json"):
            return await send({"type": "http.response.body", "body": await resp.read()})
        async for chunk in resp.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
