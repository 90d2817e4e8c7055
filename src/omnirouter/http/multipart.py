"""``multipart/form-data`` bodies of the media endpoints (transcriptions, translations, image edits).

Parsing is done by ``python-multipart`` (the streaming parser Starlette uses; maintained, typed, with
limits on boundary length and per-part headers): a hand-written multipart parser is a classic source of
request-smuggling and denial-of-service bugs.  This module adds what the gateway needs on top: the whole
form in memory, the order of fields and files kept, field names kept exactly as sent (``image[]``,
``timestamp_granularities[]``, ``chunking_strategy[type]``), limits on the number of parts and the size
of a text field, and one kind of failure: a malformed body is a 400 ``GatewayError`` that names the
problem, never another exception.

``build_form`` writes a body the other way, the way ``httpx`` (so the openai SDK) does: one part per
text field, files as real file parts with their filename and content type.  It is written here because
writing is a few lines, and the encoders that exist come with an HTTP client (aiohttp's ``FormData``,
which only ``transport`` may import; httpx; urllib3), not something the ``http`` leaf should depend on.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from omnirouter.ir import ErrorKind, GatewayError

MAX_PARTS = 1000
MAX_FIELD_BYTES = 1024 * 1024  # one text field; files are bounded by the body limit only
_DEFAULT_FILE_TYPE = "application/octet-stream"
# python-multipart logs a warning for every malformed body; the client is told with a 400 instead, and a
# client sending garbage must not fill the gateway's log.  Its parsers log here, where only errors pass.
_PARSER_LOG = logging.getLogger(__name__ + ".parser")
_PARSER_LOG.setLevel(logging.ERROR)
# RFC 2046 §5.1.1 characters, not ending in a space; up to python-multipart's 256 rather than the RFC's 70,
# as some clients write longer ones.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,255}[0-9A-Za-z'()+_,\-./:=?]")
# How httpx (and browsers, WHATWG) escape a name or filename inside the quoted header parameter.
_ESCAPES = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A", "\\": "\\\\"})


@dataclass(frozen=True, slots=True)
class FilePart:
    """One file of a form: the field it was sent under, its filename and content type, its bytes."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Form:
    """A parsed form: text fields (``pairs`` in the order sent, ``fields`` grouped by name) and files."""

    pairs: tuple[tuple[str, str], ...] = ()
    files: tuple[FilePart, ...] = ()
    fields: dict[str, list[str]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, value in self.pairs:
            self.fields.setdefault(name, []).append(value)

    def text(self, name: str) -> str | None:
        """The first value of the text field named exactly ``name``, if any."""
        values = self.fields.get(name)
        return values[0] if values else None

    def texts(self, name: str) -> list[str]:
        """Every value sent for the list field ``name``: as ``name``, ``name[]`` or ``name[0]``…, in order."""
        return [value for key, value in self.pairs if _is_element(key, name)]

    def subfields(self, name: str) -> dict[str, str]:
        """The object field ``name`` sent as ``name[key]`` parts (``chunking_strategy[type]``): key → first value.

        ``name[]`` and ``name[0]``-style list elements are not keys of an object and are left out.
        """
        found: dict[str, str] = {}
        prefix = name + "["
        for key, value in self.pairs:
            if key.startswith(prefix) and key.endswith("]"):
                sub = key[len(prefix) : -1]
                if sub and not sub.isdigit() and "[" not in sub:
                    found.setdefault(sub, value)
        return found

    def files_named(self, name: str) -> list[FilePart]:
        """The files sent under ``name``, ``name[]`` or ``name[0]``, ``name[1]``…, in the order sent."""
        return [part for part in self.files if _is_element(part.field, name)]

    def file(self, name: str) -> FilePart | None:
        """The first file sent under ``name`` (any of the spellings of ``files_named``), if any."""
        return next(iter(self.files_named(name)), None)

    def has(self, name: str) -> bool:
        """Whether a text field or a file was sent under ``name`` (any list spelling)."""
        return any(_is_element(key, name) for key, _ in self.pairs) or bool(self.files_named(name))


def _is_element(key: str, name: str) -> bool:
    """Whether the form key ``key`` is ``name`` itself or an element of it: ``name[]``, ``name[3]``."""
    if key == name:
        return True
    if not key.startswith(name + "[") or not key.endswith("]"):
        return False
    index = key[len(name) + 1 : -1]
    return index == "" or index.isdigit()


def _invalid(message: str) -> GatewayError:
    return GatewayError(ErrorKind.INVALID_REQUEST, message)


def boundary_of(content_type: str | bytes) -> bytes:
    """The boundary of a ``multipart/form-data`` content type; 400 for another type or a bad boundary.

    ``content_type`` as the header's bytes, or as text (which, like any header, must be Latin-1).
    """
    if isinstance(content_type, str):
        try:
            content_type = content_type.encode("latin-1")
        except UnicodeEncodeError:
            raise _invalid("The Content-Type header is not valid (characters outside Latin-1).") from None
    media_type, options = parse_options_header(content_type.decode("latin-1"))
    if media_type != b"multipart/form-data":
        shown = media_type.decode("latin-1") or "none"
        raise _invalid(f"The request body must be multipart/form-data, not Content-Type '{shown}'.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise _invalid("The multipart/form-data Content-Type has no boundary parameter.")
    if _BOUNDARY.fullmatch(boundary.decode("latin-1")) is None:
        raise _invalid(
            "The multipart/form-data boundary is invalid (RFC 2046 characters, at most 256, no final space)."
        )
    return boundary


class _Collector:
    """The callbacks of one ``MultipartParser`` run: gathers each part's headers and bytes."""

    def __init__(self, max_parts: int, max_field_bytes: int) -> None:
        self.max_parts = max_parts
        self.max_field_bytes = max_field_bytes
        self.pairs: list[tuple[str, str]] = []
        self.files: list[FilePart] = []
        self.count = 0
        self._headers: dict[bytes, bytes] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._data: list[bytes] = []
        self._size = 0
        self._name = ""
        self._filename: str | None = None

    def on_part_begin(self) -> None:
        self.count += 1
        if self.count > self.max_parts:
            raise _invalid(f"The multipart body has more than {self.max_parts} parts.")
        self._headers = {}
        self._data = []
        self._size = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).strip().lower()] = bytes(self._header_value).strip()
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b"").decode("latin-1"))
        if disposition != b"form-data" or b"name" not in options:
            raise _invalid('Every multipart part needs a "Content-Disposition: form-data; name=..." header.')
        self._name = _utf8(options[b"name"], "a field name")
        filename = options.get(b"filename")
        self._filename = None if filename is None else _utf8(filename, f"the filename of field '{self._name}'")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._filename is None and self._size > self.max_field_bytes:
            raise _invalid(f"The text field '{self._name}' is larger than {self.max_field_bytes} bytes.")
        self._data.append(data[start:end])

    def on_part_end(self) -> None:
        data = b"".join(self._data)
        if self._filename is None:
            self.pairs.append((self._name, _utf8(data, f"the text field '{self._name}'")))
            return
        content_type = self._headers.get(b"content-type", b"").decode("latin-1") or _DEFAULT_FILE_TYPE
        self.files.append(FilePart(self._name, self._filename, content_type, data))


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(f"The multipart body is invalid: {what} is not UTF-8.") from None


def parse_form(
    body: bytes, content_type: str | bytes, *, max_parts: int = MAX_PARTS, max_field_bytes: int = MAX_FIELD_BYTES
) -> Form:
    """The form in ``body``; 400 ``GatewayError`` (``invalid_request``) when it is not a well-formed one.

    At most ``max_parts`` parts and ``max_field_bytes`` per text field; the body as a whole was bounded
    when it was read (``read_body``).  A part with a ``filename`` parameter is a file, any other a text field.
    """
    boundary = boundary_of(content_type)
    collector = _Collector(max_parts, max_field_bytes)
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": collector.on_part_begin,
                "on_header_field": collector.on_header_field,
                "on_header_value": collector.on_header_value,
                "on_header_end": collector.on_header_end,
                "on_headers_finished": collector.on_headers_finished,
                "on_part_data": collector.on_part_data,
                "on_part_end": collector.on_part_end,
            },
        )
        parser.logger = _PARSER_LOG
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise _invalid(f"The multipart body is malformed: {exc}") from None
    if parser.state != MultipartState.END:
        raise _invalid("The multipart body is truncated: it does not end with its closing boundary.")
    return Form(tuple(collector.pairs), tuple(collector.files))


def _quoted(value: str) -> bytes:
    return value.translate(_ESCAPES).encode("utf-8")


def _part_headers(name: str, filename: str | None, content_type: str | None) -> bytes:
    header = b'Content-Disposition: form-data; name="' + _quoted(name) + b'"'
    if filename is not None:
        header += b'; filename="' + _quoted(filename) + b'"'
    if content_type is not None:
        header += b"\r\nContent-Type: " + content_type.replace("\r", "").replace("\n", "").encode("latin-1", "replace")
    return header + b"\r\n\r\n"


def _new_boundary(payloads: Sequence[bytes]) -> bytes:
    """A random boundary found in none of ``payloads`` (a clash is all but impossible; checked anyway)."""
    while True:
        boundary = b"omnirouter-" + secrets.token_hex(16).encode("ascii")
        if not any(boundary in payload for payload in payloads):
            return boundary


def _parts(fields: Sequence[tuple[str, str]], files: Sequence[FilePart]) -> Iterator[tuple[bytes, bytes]]:
    for name, value in fields:
        yield _part_headers(name, None, None), value.encode("utf-8")
    for part in files:
        yield _part_headers(part.field, part.filename, part.content_type or _DEFAULT_FILE_TYPE), part.data


def build_form(fields: Sequence[tuple[str, str]], files: Sequence[FilePart]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of ``fields`` (text, in order) then ``files``, and its Content-Type.

    Names are written as given (``image[]`` stays ``image[]``); quotes and line breaks in a name or
    filename are escaped as httpx and browsers do (``%22``, ``%0D``, ``%0A``).
    """
    parts = list(_parts(fields, files))
    boundary = _new_boundary([data for _, data in parts])
    delimiter = b"--" + boundary
    chunks: list[bytes] = []
    for headers, data in parts:
        chunks += (delimiter, b"\r\n", headers, data, b"\r\n")
    chunks += (delimiter, b"--\r\n")
    return b"".join(chunks), "multipart/form-data; boundary=" + boundary.decode("ascii")
