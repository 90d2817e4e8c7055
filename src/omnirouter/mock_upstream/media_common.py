"""Shared pieces of the media endpoints: multipart bodies, directives without a prompt, vectors,
relevance scores, and the ``/media/{name}`` route that serves generated files by URL."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from aiohttp import web

from omnirouter.mock_upstream import media_bytes
from omnirouter.mock_upstream.core import STATE_KEY, Exchange, Wire, begin, log_request
from omnirouter.mock_upstream.directives import Directive

_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))')
_WORD = re.compile(r"\w+")


@dataclass(slots=True)
class Part:
    """One multipart/form-data part."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def is_file(self) -> bool:
        """True for a file part (one with a filename)."""
        return self.filename is not None

    @property
    def text(self) -> str:
        """The value of a text field."""
        return self.data.decode("utf-8", "replace")


@dataclass(slots=True)
class Form:
    """A parsed multipart body: its parts in order."""

    parts: list[Part] = field(default_factory=list)

    def files(self, *names: str) -> list[Part]:
        """File parts whose field name is one of ``names``."""
        return [p for p in self.parts if p.name in names and p.is_file]

    def text(self, name: str) -> str | None:
        """The last text value of field ``name``."""
        values = self.texts(name)
        return values[-1] if values else None

    def texts(self, name: str) -> list[str]:
        """Every text value of field ``name``."""
        return [p.text for p in self.parts if p.name == name and not p.is_file]

    def summary(self) -> dict[str, Any]:
        """What the request log records: text fields and, for files, name, type, size and sha256."""
        fields: dict[str, Any] = {}
        for p in self.parts:
            if p.is_file:
                continue
            if p.name in fields:
                prior = fields[p.name]
                fields[p.name] = [*prior, p.text] if isinstance(prior, list) else [prior, p.text]
            else:
                fields[p.name] = p.text
        files = [
            {
                "field": p.name,
                "filename": p.filename,
                "content_type": p.content_type,
                "size": len(p.data),
                "sha256": hashlib.sha256(p.data).hexdigest(),
            }
            for p in self.parts
            if p.is_file
        ]
        return {"multipart": True, "fields": fields, "files": files}


def parse_multipart(raw: bytes, content_type: str) -> Form | None:
    """Parse a multipart/form-data body (None when it has no boundary or no parts)."""
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(content_type)
    }
    boundary = params.get("boundary")
    if not boundary:
        return None
    form = Form()
    chunks = raw.split(b"--" + boundary.encode())
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PARAM.finditer(";" + headers.get("content-disposition", "").partition(";")[2])
        }
        name = disposition.get("name")
        if name is None:
            continue
        form.parts.append(Part(name, data, disposition.get("filename"), headers.get("content-type")))
    return form if form.parts else None


class FormExchange(Exchange):
    """An exchange whose body came as multipart/form-data (``body`` holds the text fields)."""

    __slots__ = ("form",)

    def __init__(self, request: web.Request, wire: Wire, form: Form) -> None:
        super().__init__(request, request.app[STATE_KEY], wire, {p.name: p.text for p in form.parts if not p.is_file})
        self.form = form


async def begin_media(request: web.Request, wire: Wire) -> Exchange | web.Response:
    """``begin`` for endpoints that take JSON or multipart/form-data bodies."""
    if not request.content_type.startswith("multipart/"):
        return await begin(request, wire)
    raw = await request.read()
    form = parse_multipart(raw, request.headers.get("Content-Type", ""))
    log_request(request, wire.name, form.summary() if form else raw[:2000].decode("utf-8", "replace"))
    denied = wire.check_auth(request)
    if denied is not None:
        return denied
    if form is None:
        return wire.error(400, "Could not parse multipart form")
    return FormExchange(request, wire, form)


async def directive(ex: Exchange, text: str, stream: bool = False) -> tuple[Directive, str] | web.StreamResponse:
    """The request's directive (queued, or ``[[mock ...]]`` in ``text``) after delay/fail/garbage."""
    resolved = ex.resolve(text)
    if isinstance(resolved, web.Response):
        return resolved
    found, clean = resolved
    early = await ex.preamble(found, stream)
    return early if early is not None else (found, clean)


def seed_of(*parts: str) -> int:
    """A small deterministic number derived from text."""
    return hashlib.sha256("\x00".join(parts).encode()).digest()[0]


@lru_cache(maxsize=512)
def vector(text: str, dims: int) -> bytes:
    """A unit-length float32 (little-endian) vector derived from ``text``."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    values = np.random.default_rng(seed).standard_normal(dims)
    values /= np.linalg.norm(values) or 1.0
    return values.astype("<f4").tobytes()


def floats(text: str, dims: int) -> list[float]:
    """``vector`` as a list of floats (float32 precision)."""
    values: list[float] = np.frombuffer(vector(text, dims), dtype="<f4").tolist()
    return values


def relevance(query: str, document: str) -> float:
    """A deterministic score in [0, 1]: the share of query words found in the document."""
    q = {w.lower() for w in _WORD.findall(query)}
    d = {w.lower() for w in _WORD.findall(document)}
    overlap = len(q & d) / len(q) if q else 0.0
    tie = seed_of(query, document) / 255 / 100  # < 0.01, keeps equal overlaps apart
    return round(0.02 + 0.95 * overlap + tie, 6)


def ranked(query: str, documents: list[str], top: int | None) -> list[tuple[int, float]]:
    """(index, score) pairs sorted by descending score, cut to ``top`` when given."""
    scores = sorted(((i, relevance(query, d)) for i, d in enumerate(documents)), key=lambda p: (-p[1], p[0]))
    return scores[:top] if top is not None and top >= 0 else scores


def image_url(request: web.Request, fmt: str, width: int, height: int, seed: int, pad: int | None = None) -> str:
    """A URL on this mock that serves a generated image."""
    return f"{request.url.origin()}/media/img-{width}x{height}-{seed}-{pad or 0}.{fmt}"


def audio_url(request: web.Request, fmt: str, seconds: float, rate: int, pad: int | None = None) -> str:
    """A URL on this mock that serves generated audio."""
    return f"{request.url.origin()}/media/aud-{round(seconds * 1000)}-{rate}-{pad or 0}.{fmt}"


_IMAGE_NAME = re.compile(r"img-(\d+)x(\d+)-(\d+)-(\d+)\.(png|jpeg|jpg|webp)")
_AUDIO_NAME = re.compile(r"aud-(\d+)-(\d+)-(\d+)\.(mp3|wav|flac|opus|ogg_opus|pcm)")


async def serve_media(request: web.Request) -> web.StreamResponse:
    """``GET /media/{name}``: the bytes behind a generated URL (logged with provider ``media``, no auth)."""
    log_request(request, "media", None)
    name = request.match_info["name"]
    if m := _IMAGE_NAME.fullmatch(name):
        width, height, seed, pad, ext = m.groups()
        data = media_bytes.image(ext, int(width), int(height), int(seed))
        content_type = media_bytes.IMAGE_TYPES[ext]
    elif m := _AUDIO_NAME.fullmatch(name):
        ms, rate, pad, ext = m.groups()
        data = media_bytes.audio(ext, int(ms) / 1000, int(rate))
        content_type = media_bytes.AUDIO_TYPES[ext]
    else:
        return web.json_response({"error": f"no such media: {name}"}, status=404)
    return web.Response(body=media_bytes.padded(data, ext, int(pad)), content_type=content_type)
