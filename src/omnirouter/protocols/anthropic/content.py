"""Anthropic content blocks ↔ IR parts, for requests and answers alike.

Decoding: ``text``, ``image`` (base64 or url source), ``document`` (base64, text,
url or file source → :class:`FilePart`, ``title`` ↔ ``filename``), ``tool_use``,
``tool_result``, ``thinking`` and ``redacted_thinking`` map to parts; every other
block (server tools and their results, ``search_result``, image/document sources
of type ``file`` / ``content`` …) becomes ``UnknownPart(protocol="anthropic")``.
Fields a part has no place for go to the side table (:mod:`.side`).  A text
document's text is kept base64-encoded in ``FilePart.data`` (media type
``text/plain``), since that field holds base64.

Encoding has two modes.  **Upstream** (a request to Anthropic): empty and
whitespace-only text is dropped (Anthropic rejects it), reasoning is sent only when
its origin is Anthropic and it carries a signature or redacted data, foreign
signatures are dropped, audio is dropped.  **Client** (an answer to an Anthropic
client): reasoning is carried, foreign signatures wrapped (:mod:`.signatures`);
images and files are dropped, since an Anthropic answer has no block for them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from omnirouter.ir import (
    FilePart,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)
from omnirouter.protocols.anthropic import signatures
from omnirouter.protocols.anthropic._shared import PROTOCOL, invalid, opt_bool, opt_str, req_str
from omnirouter.protocols.anthropic.side import SideReader, SideTable
from omnirouter.protocols.common import guess_media_type, new_id, split_data_uri
from omnirouter.protocols.common import json_object as input_object
from omnirouter.protocols.image_urls import image_from_url
from omnirouter.protocols.limits import json_text

Block = dict[str, Any]

_CONSUMED: dict[str, frozenset[str]] = {
    "text": frozenset({"type", "text"}),
    "image": frozenset({"type", "source"}),
    "document": frozenset({"type", "source", "title"}),
    "tool_use": frozenset({"type", "id", "name", "input"}),
    "tool_result": frozenset({"type", "tool_use_id", "content", "is_error"}),
    "thinking": frozenset({"type", "thinking", "signature"}),
    "redacted_thinking": frozenset({"type", "data"}),
}


def _extras(block: Block) -> dict[str, Any]:
    consumed = _CONSUMED[block["type"]]
    return {k: v for k, v in block.items() if k not in consumed}


def _source(block: Block, param: str) -> Block:
    source = block.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("type"), str):
        raise invalid("Field required: an object with a string 'type'", f"{param}.source")
    return source


def _image(block: Block, param: str) -> ImagePart | None:
    source = _source(block, param)
    sub = f"{param}.source"
    if source["type"] == "base64":
        data = req_str(source, "data", f"{sub}.data")
        return ImagePart(data=data, media_type=req_str(source, "media_type", f"{sub}.media_type"))
    if source["type"] == "url":
        return image_from_url(req_str(source, "url", f"{sub}.url"), f"{sub}.url")
    return None


def _document(block: Block, param: str) -> FilePart | None:
    source = _source(block, param)
    sub = f"{param}.source"
    title = opt_str(block, "title", f"{param}.title")
    kind = source["type"]
    if kind == "base64":
        data = req_str(source, "data", f"{sub}.data")
        media_type = req_str(source, "media_type", f"{sub}.media_type")
        return FilePart(data=data, media_type=media_type, filename=title)
    if kind == "text":
        text = req_str(source, "data", f"{sub}.data")
        media_type = opt_str(source, "media_type", f"{sub}.media_type") or "text/plain"
        return FilePart(data=base64.b64encode(text.encode()).decode(), media_type=media_type, filename=title)
    if kind == "url":
        return FilePart(url=req_str(source, "url", f"{sub}.url"), filename=title)
    if kind == "file":
        return FilePart(file_id=req_str(source, "file_id", f"{sub}.file_id"), filename=title)
    return None


class ContentDecoder:
    """Decodes the content of the messages of one body, in order (tool names carry over)."""

    __slots__ = ("_side", "names")

    def __init__(self, side: SideTable) -> None:
        self._side = side
        self.names: dict[str, str] = {}

    def decode(self, content: Any, message: int, param: str) -> list[Part]:
        """A message's ``content`` (a string or an array of blocks) as parts of IR message ``message``."""
        if isinstance(content, str):
            return [TextPart(text=content)] if content else []
        if not isinstance(content, list):
            raise invalid("Input should be a valid string or a list of content blocks", param)
        parts: list[Part] = []
        call_signature: signatures.Carried | None = None
        for j, block in enumerate(content):
            sub = f"{param}.{j}"
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise invalid("Input should be an object with a string 'type'", sub)
            part = self._block(block, sub)
            if isinstance(part, signatures.Carried):
                call_signature = part
                continue
            if isinstance(part, ToolCallPart) and call_signature is not None:
                part.signature, part.signature_origin = call_signature.signature, call_signature.origin
            call_signature = None
            if part is None:
                continue
            if not isinstance(part, UnknownPart):
                extras = _extras(block)
                override = self._result_override(block) if isinstance(part, ToolResultPart) else None
                if override is not None:
                    extras["content"] = override
                self._side.block(message, len(parts), block["type"], extras)
            parts.append(part)
        return parts

    def _block(self, block: Block, param: str) -> Part | signatures.Carried | None:
        kind = block["type"]
        if kind == "text":
            return TextPart(text=req_str(block, "text", f"{param}.text"))
        if kind == "image":
            return _image(block, param) or UnknownPart(protocol=PROTOCOL, data=block)
        if kind == "document":
            return _document(block, param) or UnknownPart(protocol=PROTOCOL, data=block)
        if kind == "tool_use":
            return self._tool_use(block, param)
        if kind == "tool_result":
            return self._tool_result(block, param)
        if kind == "thinking":
            text = req_str(block, "thinking", f"{param}.thinking")
            carried = signatures.read_signature(opt_str(block, "signature", f"{param}.signature") or "")
            if carried.call_signature:
                return carried if carried.signature else None
            return ReasoningPart(text=text, signature=carried.signature, origin=carried.origin, id=carried.item_id)
        if kind == "redacted_thinking":
            origin, data = signatures.read_redacted(req_str(block, "data", f"{param}.data"))
            return ReasoningPart(redacted=data, origin=origin)
        return UnknownPart(protocol=PROTOCOL, data=block)

    def _tool_use(self, block: Block, param: str) -> ToolCallPart:
        call_id = req_str(block, "id", f"{param}.id")
        name = req_str(block, "name", f"{param}.name")
        arguments = block.get("input", {})
        if not isinstance(arguments, dict):
            raise invalid("Input should be a valid dictionary", f"{param}.input")
        self.names[call_id] = name
        return ToolCallPart(id=call_id, name=name, arguments=json_text(arguments, f"{param}.input"))

    def _tool_result(self, block: Block, param: str) -> ToolResultPart:
        call_id = req_str(block, "tool_use_id", f"{param}.tool_use_id")
        content = block.get("content")
        parts: list[TextPart | ImagePart] = []
        if isinstance(content, str):
            parts = [TextPart(text=content)] if content else []
        elif isinstance(content, list):
            for k, item in enumerate(content):
                sub = f"{param}.content.{k}"
                if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                    raise invalid("Input should be an object with a string 'type'", sub)
                if item["type"] == "text":
                    parts.append(TextPart(text=req_str(item, "text", f"{sub}.text")))
                elif item["type"] == "image":
                    image = _image(item, sub)
                    if image is not None:
                        parts.append(image)
        elif content is not None:
            raise invalid("Input should be a valid string or a list of content blocks", f"{param}.content")
        return ToolResultPart(
            call_id=call_id,
            content=parts,
            name=self.names.get(call_id),
            is_error=bool(opt_bool(block, "is_error", f"{param}.is_error")),
        )

    @staticmethod
    def _result_override(block: Block) -> list[Any] | None:
        """The original ``content`` when it holds what :class:`ToolResultPart` cannot (kept same-protocol)."""
        content = block.get("content")
        if not isinstance(content, list):
            return None
        for item in content:
            kind = item.get("type")
            if kind not in ("text", "image") or _extras(item):
                return content
            if kind == "image" and item["source"].get("type") not in ("base64", "url"):
                return content
        return None


def _decode_text(data: str) -> str | None:
    try:
        return base64.b64decode(data, validate=True).decode()
    except (binascii.Error, ValueError):
        return None


def image_block(part: ImagePart) -> Block | None:
    """An IR image as an ``image`` block (data URIs become base64 sources)."""
    data, media_type = part.data, part.media_type
    if data is None and part.url is not None:
        split = split_data_uri(part.url)
        if split is None:
            return {"type": "image", "source": {"type": "url", "url": part.url}}
        data, media_type = split
    if data is None:
        return None
    media_type = media_type or guess_media_type(data, "image/png")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def document_block(part: FilePart) -> Block | None:
    """An IR file as a ``document`` block (or an ``image`` block for image media types)."""
    data, url, media_type = part.data, part.url, part.media_type
    if url is not None and data is None and (split := split_data_uri(url)) is not None:
        data, media_type = split
    if media_type is not None and media_type.startswith("image/") and (data is not None or url is not None):
        return image_block(ImagePart(data=data, url=None if data is not None else url, media_type=media_type))
    source: Block
    if data is not None:
        text = _decode_text(data) if media_type is not None and media_type.startswith("text/") else None
        if text is not None:
            source = {"type": "text", "media_type": "text/plain", "data": text}
        else:
            media_type = media_type or guess_media_type(data, "application/pdf")
            source = {"type": "base64", "media_type": media_type, "data": data}
    elif url is not None:
        source = {"type": "url", "url": url}
    elif part.file_id is not None:
        source = {"type": "file", "file_id": part.file_id}
    else:
        return None
    block: Block = {"type": "document", "source": source}
    if part.filename is not None:
        block["title"] = part.filename
    return block


class ContentEncoder:
    """Encodes IR parts as blocks, for an upstream request or for a client answer."""

    __slots__ = ("_side", "_upstream")

    def __init__(self, side: SideReader, *, upstream: bool) -> None:
        self._side = side
        self._upstream = upstream

    def _merge(self, block: Block | None, message: int, part: int) -> Block | None:
        if block is not None:
            block.update(self._side.block(message, part, block["type"]))
        return block

    def part(self, part: Part, message: int, index: int) -> list[Block]:
        """The blocks for one part other than a tool result (none when it has no place)."""
        builder = _BUILDERS.get(type(part))
        if builder is not None:
            block = self._merge(builder(self, part), message, index)
            return [block] if block is not None else []
        if isinstance(part, ToolCallPart):
            blocks: list[Block] = []
            if part.signature is not None and not self._upstream:
                signature = signatures.call_signature(part.signature, part.signature_origin)
                blocks.append({"type": "thinking", "thinking": "", "signature": signature})
            use: Block = {"type": "tool_use", "id": part.id or new_id("toolu_"), "name": part.name}
            use["input"] = input_object(part.arguments)
            blocks.append(self._merge(use, message, index) or use)
            return blocks
        if isinstance(part, UnknownPart) and part.protocol == PROTOCOL and isinstance(part.data, dict):
            return [dict(part.data)]
        return []

    def tool_result(self, part: ToolResultPart, message: int, index: int) -> Block:
        """A ``tool_result`` block (a single text becomes a string ``content``)."""
        items: list[Block] = []
        for item in part.content:
            if isinstance(item, TextPart):
                if item.text.strip():
                    items.append({"type": "text", "text": item.text})
            else:
                image = image_block(item)
                if image is not None:
                    items.append(image)
        block: Block = {"type": "tool_result", "tool_use_id": part.call_id}
        if len(items) == 1 and items[0]["type"] == "text":
            block["content"] = items[0]["text"]
        elif items:
            block["content"] = items
        if part.is_error:
            block["is_error"] = True
        return self._merge(block, message, index) or block

    def _text(self, part: TextPart) -> Block | None:
        keep = part.text.strip() if self._upstream else part.text
        return {"type": "text", "text": part.text} if keep else None

    def _image(self, part: ImagePart) -> Block | None:
        return image_block(part) if self._upstream else None

    def _file(self, part: FilePart) -> Block | None:
        return document_block(part) if self._upstream else None

    def _reasoning(self, part: ReasoningPart) -> Block | None:
        if self._upstream:
            if part.origin != PROTOCOL:
                return None
            if part.redacted is not None:
                return {"type": "redacted_thinking", "data": part.redacted}
            if part.signature:
                return {"type": "thinking", "thinking": part.text, "signature": part.signature}
            return None
        if part.redacted is not None:
            return {"type": "redacted_thinking", "data": signatures.redacted_data(part.redacted, part.origin)}
        signature = signatures.reasoning_signature(part.signature, part.origin, part.id)
        if not part.text and not signature:
            return None
        return {"type": "thinking", "thinking": part.text, "signature": signature}


_BUILDERS: dict[type, Callable[[ContentEncoder, Any], Block | None]] = {
    TextPart: ContentEncoder._text,
    ImagePart: ContentEncoder._image,
    FilePart: ContentEncoder._file,
    ReasoningPart: ContentEncoder._reasoning,
}
