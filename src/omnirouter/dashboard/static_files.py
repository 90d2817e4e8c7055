"""The console's static files, read once from the package and served with ETags.

Only the files found under ``static/`` when the worker starts can be served: a request names one of them
exactly (a dict lookup), so no path (``..``, an encoded slash, a backslash, an absolute path) can reach
anything else.  Each answer carries a strong ETag (a digest of the bytes) and ``Cache-Control: no-cache``
(the browser keeps the file and asks again with ``If-None-Match``; an unchanged file is a 304).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

__all__ = ["CONTENT_TYPES", "StaticFile", "StaticFiles"]

CONTENT_TYPES: dict[str, bytes] = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".json": b"application/json",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
    ".txt": b"text/plain; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file: its bytes, content type and ETag (a quoted hex digest)."""

    body: bytes
    content_type: bytes
    etag: bytes


class StaticFiles:
    """Every servable file under a package folder, by its path relative to it (``js/app.js``)."""

    def __init__(self, package: str = "omnirouter.dashboard", folder: str = "static") -> None:
        self.files: dict[str, StaticFile] = {}
        self._walk(resources.files(package).joinpath(folder), "")

    def _walk(self, node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            name = f"{prefix}{child.name}"
            if child.is_dir():
                self._walk(child, f"{name}/")
                continue
            suffix = "." + child.name.rsplit(".", 1)[-1] if "." in child.name else ""
            content_type = CONTENT_TYPES.get(suffix)
            if content_type is None:  # not a kind of file the console ships: never served
                continue
            body = child.read_bytes()
            etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
            self.files[name] = StaticFile(body, content_type, etag)

    def get(self, name: str) -> StaticFile | None:
        """The file at ``name`` (relative, ``/``-separated), if the console ships one there."""
        return self.files.get(name)
