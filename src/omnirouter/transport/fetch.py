"""The guarded fetch of an image a client names by URL (relay/images.py inlines them for Gemini).

Fetching a URL a client names is a server-side request on the client's behalf,
so it is guarded: hosts that resolve to private, loopback, link-local or other
non-public addresses are refused unless allowed by config, bodies over the size
cap are cut off, and every fetch has a timeout.  (The address check happens at
resolution; a host that changes its DNS answer between check and fetch could
slip through — deny such hosts by name if that matters.)
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

import aiohttp

from omnirouter.config.schema import ImageFetchConfig
from omnirouter.ir import ErrorKind, GatewayError

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


def _refuse(url: str, reason: str) -> GatewayError:
    return GatewayError(ErrorKind.INVALID_REQUEST, f"Cannot fetch image {url}: {reason}.", param="messages")


async def refusal(url: str, allow_private: bool, allow_hosts: Collection[str], deny_hosts: Collection[str]) -> str:
    """Why a server-side fetch of ``url`` is refused ("" when it may go): no host, a denied host, or a host
    resolving to a non-public address (unless allowed by name or ``allow_private``)."""
    host = urlsplit(url).hostname
    if not host:
        return "the URL has no host"
    if host in deny_hosts:
        return "the host is denied"
    if host in allow_hosts or allow_private:
        return ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return "the host does not resolve"
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return "the host resolves to a private or reserved address"
    return ""


class ImageFetcher:
    """Fetches image URLs under the configured policy with the worker's shared session."""

    def __init__(self, config: ImageFetchConfig) -> None:
        self._config = config

    async def _check_host(self, url: str) -> None:
        config = self._config
        reason = await refusal(url, config.allow_private, config.allow_hosts, config.deny_hosts)
        if reason:
            raise _refuse(url, reason)

    async def fetch(self, session: aiohttp.ClientSession, url: str) -> tuple[str, str]:
        """``(base64 data, media type)`` of the image at ``url``."""
        await self._check_host(url)
        limit = self._config.max_bytes
        try:
            timeout = aiohttp.ClientTimeout(total=self._config.timeout)
            async with session.get(url, timeout=timeout, allow_redirects=False) as response:
                if response.status != 200:
                    raise _refuse(url, f"it answered HTTP {response.status}")
                data = await response.content.read(limit + 1)
                media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        except (aiohttp.ClientError, TimeoutError):
            raise _refuse(url, "it could not be downloaded in time") from None
        if len(data) > limit:
            raise _refuse(url, f"it is larger than {limit} bytes")
        if not media_type.startswith("image/"):
            media_type = next((kind for magic, kind in _MAGIC if data.startswith(magic)), "")
            if not media_type:
                raise _refuse(url, "it is not an image")
        return base64.b64encode(data).decode(), media_type
