"""Inline image URLs as base64 for upstreams that only take inline images (Gemini).

The fetching itself (SSRF guard, size cap, timeout) is the transport's ``ImageFetcher``.
"""

from __future__ import annotations

import asyncio

import msgspec

from omnirouter.ir import ChatRequest, ImagePart, Part, ToolResultPart
from omnirouter.transport import ImageFetcher, Session


def _is_remote(part: Part) -> bool:
    return isinstance(part, ImagePart) and part.data is None and (part.url or "").startswith(("http://", "https://"))


def needs_inlining(request: ChatRequest) -> bool:
    """Whether ``request`` holds image URLs (cheap scan; the common case is False)."""
    for message in request.messages:
        for part in message.content:
            if _is_remote(part):
                return True
            if isinstance(part, ToolResultPart) and any(_is_remote(p) for p in part.content):
                return True
    return False


async def inline_images(fetcher: ImageFetcher, session: Session, request: ChatRequest) -> ChatRequest:
    """``request`` with every image URL replaced by its data."""
    urls = {
        part.url
        for message in request.messages
        for part in message.content
        for part in (part.content if isinstance(part, ToolResultPart) else [part])
        if isinstance(part, ImagePart) and _is_remote(part) and part.url
    }
    fetched = dict(zip(urls, await asyncio.gather(*(fetcher.fetch(session, u) for u in urls)), strict=True))

    def swap(part: Part) -> Part:
        if isinstance(part, ImagePart) and part.url in fetched and part.data is None:
            data, media_type = fetched[part.url]
            return msgspec.structs.replace(part, url=None, data=data, media_type=media_type)
        if isinstance(part, ToolResultPart):
            content = [swap(p) for p in part.content]
            return msgspec.structs.replace(part, content=content)
        return part

    messages = [msgspec.structs.replace(m, content=[swap(p) for p in m.content]) for m in request.messages]
    return msgspec.structs.replace(request, messages=messages)
