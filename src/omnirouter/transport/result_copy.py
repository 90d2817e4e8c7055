"""Copying a task's output from the vendor's URL into the result store, before that URL dies.

Vendor result URLs are public hosts, but the URL comes from an upstream's answer, so the fetch is guarded like a
client-named image (``fetch.refusal``: private and reserved addresses refused unless the policy allows them, as it
does for the local mock), streamed straight into the store (never whole in memory), cut off past ``max_bytes`` and
bounded in time.  A ``data:`` URL (a result the vendor answered inline, as Suno's lyrics text, made into one by its
codec) is stored as is, within ``max_bytes``.  Some vendors' outputs need the channel key (Veo, Sora): the caller
passes those headers, and they are dropped when a redirect leaves the vendor's origin, so a key never reaches a
storage host.  Errors name the URL without its query (signed vendor URLs carry tokens there) and say whether trying
later may help.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

import aiohttp

from omnirouter.config.schema import ImageFetchConfig
from omnirouter.storage.blobs import BlobStore, StoredBlob
from omnirouter.transport.fetch import refusal

__all__ = ["CopyLimits", "ResultCopyError", "copy_url", "store_bytes"]

_CHUNK = 256 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
_RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class CopyLimits:
    """How a result is fetched: size cap (bytes), total time (seconds, the store write included), and the
    address policy."""

    max_bytes: int
    timeout: float
    allow_private: bool = False
    allow_hosts: Collection[str] = field(default_factory=frozenset)
    deny_hosts: Collection[str] = field(default_factory=frozenset)
    max_redirects: int = 5

    @classmethod
    def from_fetch_policy(cls, policy: ImageFetchConfig, *, max_bytes: int, timeout: float) -> CopyLimits:
        """The address policy of ``image_fetch`` with this copy's own size and time limits."""
        hosts = frozenset(policy.allow_hosts), frozenset(policy.deny_hosts)
        return cls(max_bytes, timeout, policy.allow_private, *hosts)


class ResultCopyError(Exception):
    """A result could not be copied; ``retryable`` when a later attempt may succeed (timeouts, 5xx, 429)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


def _shown(url: str) -> str:
    """``url`` without credentials, query or fragment."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


async def _body(response: aiohttp.ClientResponse, url: str, limit: int) -> AsyncIterator[bytes]:
    size = 0
    try:
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ResultCopyError(f"{_shown(url)} is larger than {limit} bytes", retryable=False)
            yield chunk
    except aiohttp.ClientError as error:
        raise ResultCopyError(f"{_shown(url)} broke off: {type(error).__name__}", retryable=True) from None


async def _copy_inline(
    url: str, store: BlobStore, name: str, limits: CopyLimits, content_type: str | None
) -> StoredBlob:
    """A ``data:`` URL a codec made of a result the vendor answered inline (Suno's lyrics text)."""
    header, comma, payload = url.partition(",")
    if not comma:
        raise ResultCopyError("a data: URL without a comma", retryable=False)
    served = header[5:].split(";")[0].strip().lower()
    try:
        data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else unquote_to_bytes(payload)
    except ValueError:
        raise ResultCopyError("a data: URL with bad base64", retryable=False) from None
    if len(data) > limits.max_bytes:
        raise ResultCopyError(f"a data: URL larger than {limits.max_bytes} bytes", retryable=False)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    return await store.put(name, chunks(), content_type or served or "text/plain")


async def store_bytes(store: BlobStore, name: str, data: bytes, content_type: str, max_bytes: int) -> StoredBlob:
    """Keep a result the vendor answered inline (a synchronous image vendor's base64) under ``name``, within
    ``max_bytes`` (``ResultCopyError`` past it: nothing stored)."""
    if len(data) > max_bytes:
        raise ResultCopyError(f"an inline result larger than {max_bytes} bytes", retryable=False)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    return await store.put(name, chunks(), content_type)


async def _copy(
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    store: BlobStore,
    name: str,
    limits: CopyLimits,
    content_type: str | None,
) -> StoredBlob:
    first = _origin(url)
    for _ in range(limits.max_redirects + 1):
        if urlsplit(url).scheme not in ("http", "https"):
            raise ResultCopyError(f"{_shown(url)} is not an http(s) URL", retryable=False)
        reason = await refusal(url, limits.allow_private, limits.allow_hosts, limits.deny_hosts)
        if reason:
            raise ResultCopyError(f"Cannot fetch {_shown(url)}: {reason}", retryable=False)
        sent = dict(headers) if _origin(url) == first else {}
        async with session.get(url, headers=sent, allow_redirects=False) as response:
            if response.status in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise ResultCopyError(f"{_shown(url)} redirected nowhere", retryable=False, status=response.status)
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise ResultCopyError(
                    f"{_shown(url)} answered HTTP {response.status}",
                    retryable=response.status in _RETRYABLE,
                    status=response.status,
                )
            if response.content_length is not None and response.content_length > limits.max_bytes:
                raise ResultCopyError(f"{_shown(url)} is larger than {limits.max_bytes} bytes", retryable=False)
            served = response.headers.get("content-type", "").split(";")[0].strip().lower()
            body = _body(response, url, limits.max_bytes)
            return await store.put(name, body, content_type or served or "application/octet-stream")
    raise ResultCopyError(f"{_shown(url)}: more than {limits.max_redirects} redirects", retryable=False)


async def copy_url(
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    store: BlobStore,
    name: str,
    limits: CopyLimits,
    content_type: str | None = None,
) -> StoredBlob:
    """Stream ``url`` (sent with ``headers`` while on its first origin) into ``store`` under ``name``, as
    ``content_type`` (None: the one served); raises ``ResultCopyError`` (nothing stored) when it cannot."""
    if url.startswith("data:"):
        return await _copy_inline(url, store, name, limits, content_type)
    try:
        async with asyncio.timeout(limits.timeout):
            return await _copy(session, url, headers, store, name, limits, content_type)
    except TimeoutError:
        raise ResultCopyError(f"{_shown(url)} was not copied within {limits.timeout} s", retryable=True) from None
    except aiohttp.ClientError as error:
        raise ResultCopyError(f"{_shown(url)} failed: {type(error).__name__}", retryable=True) from None
