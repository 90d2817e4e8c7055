"""Image URLs a client names: only ``http``/``https`` (and base64 ``data:`` URIs, taken inline) are accepted.

Any other scheme (``file:``, ``ftp:``, ``gopher:`` …) is refused with 400 when the request is decoded,
before an upstream sees it; Gemini's own ``fileData`` (images or other files) may also name ``gs://``
objects.  Schemes are
lower-cased (``HTTP://`` → ``http://``) so the image-fetch policy (transport/fetch.py) recognises, and
guards, every URL it may fetch.  :func:`check_image_urls` applies the same rule to a body relayed
as it is (same protocol on both sides), which is never decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnirouter.ir import ErrorKind, GatewayError, ImagePart
from omnirouter.protocols.base import ProtocolName
from omnirouter.protocols.common import split_data_uri

WEB_SCHEMES = ("http", "https")
GEMINI_FILE_SCHEMES = ("http", "https", "gs")


def _refused(url: str, param: str, schemes: tuple[str, ...]) -> GatewayError:
    shown = url if len(url) <= 80 else f"{url[:77]}..."
    allowed = "/".join(schemes)
    return GatewayError(
        ErrorKind.INVALID_REQUEST,
        f"Unsupported image URL '{shown}': use an {allowed} URL or a base64 data: URI.",
        param=param,
    )


def web_url(url: str, param: str, schemes: tuple[str, ...] = WEB_SCHEMES) -> str:
    """``url`` with its scheme in lower case; 400 unless the scheme is one of ``schemes``."""
    scheme, sep, rest = url.partition(":")
    lowered = scheme.lower()
    if not sep or lowered not in schemes:
        raise _refused(url, param, schemes)
    return url if scheme == lowered else f"{lowered}:{rest}"


def image_from_url(url: str, param: str, detail: str | None = None) -> ImagePart:
    """The image a client names by URL: inline data for a base64 ``data:`` URI, else an http(s) URL."""
    if url[:5].lower() == "data:":
        split = split_data_uri(url if url.startswith("data:") else f"data:{url[5:]}")
        if split is None:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, "Image data: URIs must be base64 (data:<type>;base64,...).", param=param
            )
        return ImagePart(data=split[0], media_type=split[1], detail=detail)
    return ImagePart(url=web_url(url, param), detail=detail)


def _check(url: Any, param: str) -> None:
    if isinstance(url, str) and url[:5].lower() != "data:":
        web_url(url, param)


def _openai_chat(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else ()):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # most messages hold a string: one check each
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "image_url":
                    image = part.get("image_url")
                    url = image.get("url") if isinstance(image, dict) else image
                    _check(url, f"messages[{i}].content[{j}].image_url")


def _anthropic_blocks(blocks: list[Any], param: str) -> None:
    for j, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "image":
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "url":
                _check(source.get("url"), f"{param}.{j}.source.url")
        elif kind == "tool_result" and isinstance(block.get("content"), list):
            _anthropic_blocks(block["content"], f"{param}.{j}.content")


def _anthropic(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else ()):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            _anthropic_blocks(content, f"messages.{i}.content")


def _openai_responses(body: dict[str, Any]) -> None:
    items = body.get("input")
    for i, item in enumerate(items if isinstance(items, list) else ()):
        if not isinstance(item, dict):
            continue
        for key in ("content", "output"):  # message content; a function_call_output's list output
            parts = item.get(key)
            if isinstance(parts, list):
                for j, part in enumerate(parts):
                    if isinstance(part, dict) and part.get("type") == "input_image":
                        _check(part.get("image_url"), f"input[{i}].{key}[{j}].image_url")


def _gemini(body: dict[str, Any]) -> None:
    contents = body.get("contents")
    for i, content in enumerate(contents if isinstance(contents, list) else ()):
        parts = content.get("parts") if isinstance(content, dict) else None
        for j, part in enumerate(parts if isinstance(parts, list) else ()):
            ref = (part.get("fileData") or part.get("file_data")) if isinstance(part, dict) else None
            uri = (ref.get("fileUri") or ref.get("file_uri")) if isinstance(ref, dict) else None
            if isinstance(uri, str):
                gemini_file_uri(uri, f"contents[{i}].parts[{j}].fileData.fileUri")


def gemini_file_uri(uri: str, param: str) -> str:
    """A Gemini ``fileData.fileUri`` (image or not) with its scheme lower-cased: http(s), gs or data only."""
    return uri if uri[:5].lower() == "data:" else web_url(uri, param, GEMINI_FILE_SCHEMES)


_SCANNERS: dict[ProtocolName, Callable[[dict[str, Any]], None]] = {
    ProtocolName.OPENAI_CHAT: _openai_chat,
    ProtocolName.ANTHROPIC: _anthropic,
    ProtocolName.OPENAI_RESPONSES: _openai_responses,
    ProtocolName.GEMINI: _gemini,
}


def check_image_urls(protocol: ProtocolName, body: dict[str, Any]) -> None:
    """400 for an image URL in ``body`` (a ``protocol`` request) with a scheme other than http(s) or data.

    A shallow walk of the message parts only: a message whose content is a string costs one type check.
    """
    scanner = _SCANNERS.get(protocol)
    if scanner is not None:
        scanner(body)
