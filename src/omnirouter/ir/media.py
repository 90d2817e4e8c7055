"""Neutral requests and results of the synchronous media endpoints (embeddings, rerank, moderation,
speech, transcription, images), in one shape whatever wire format a client or an upstream speaks.

Codecs under ``protocols/media/`` decode a client's body into one of these requests and encode a result
back; upstream codecs build a vendor's call from a request and parse its answer into a result.  Usage
of every result is an ``ir.Usage`` (tokens and metered units), marked estimated when the gateway counted.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from omnirouter.ir.usage import Usage

__all__ = [
    "EmbeddingRequest",
    "EmbeddingResult",
    "GeneratedImage",
    "ImageInput",
    "ImageRequest",
    "ImageResult",
    "MediaFile",
    "ModerationRequest",
    "ModerationResult",
    "RerankHit",
    "RerankRequest",
    "RerankResult",
    "SpeechRequest",
    "SpeechResult",
    "TranscriptionRequest",
    "TranscriptionResult",
    "Vector",
]


class MediaFile(msgspec.Struct, frozen=True):
    """An uploaded file: its bytes, the filename and the content type the client gave."""

    data: bytes
    filename: str
    content_type: str


# ---------------------------------------------------------------- embeddings

Vector = list[float] | bytes | str
"""One embedding: floats, the little-endian float32 bytes OpenAI's base64 form carries, or an upstream's
checked base64 string of them as it came (kept so a base64 answer is relayed without turning it into
floats and back, or even decoded)."""


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    """Texts (or token arrays) to embed.

    ``texts`` and ``tokens``: exactly one is set.  ``encoding`` is what the client wants back (OpenAI's
    SDKs ask ``base64`` unless told otherwise).  ``single``: the client sent one input, not a list
    (OpenAI ``input: "..."``, Gemini ``:embedContent``).
    """

    model: str
    texts: list[str] | None = None
    tokens: list[list[int]] | None = None
    dimensions: int | None = None
    encoding: Literal["float", "base64"] = "float"
    task_type: str | None = None
    title: str | None = None
    user: str | None = None
    single: bool = False


class EmbeddingResult(msgspec.Struct, kw_only=True):
    """One vector per input, in input order."""

    vectors: list[Vector]
    usage: Usage


# ---------------------------------------------------------------- rerank


class RerankRequest(msgspec.Struct, kw_only=True):
    """A query and documents to rank.  ``top_n`` / ``return_documents`` are ``None`` when the client did
    not say (never invented: each vendor's own default then applies)."""

    model: str
    query: str
    documents: list[str | dict[str, Any]]
    top_n: int | None = None
    return_documents: bool | None = None
    rank_fields: list[str] | None = None
    max_chunks_per_doc: int | None = None
    max_tokens_per_doc: int | None = None


class RerankHit(msgspec.Struct, kw_only=True):
    """One ranked document: its index in the client's list, its score, and (when the upstream returned
    the document) the client's own document at that index."""

    index: int
    score: float
    document: str | dict[str, Any] | None = None


class RerankResult(msgspec.Struct, kw_only=True):
    """Hits by descending score; ``search_units`` as Cohere bills them (also in ``usage.calls``)."""

    hits: list[RerankHit]
    usage: Usage
    id: str | None = None
    search_units: int | None = None


# ---------------------------------------------------------------- moderation


class ModerationRequest(msgspec.Struct, kw_only=True):
    """OpenAI's moderation input: a string, strings, or multimodal parts (kept as sent)."""

    model: str
    input: Any


class ModerationResult(msgspec.Struct, kw_only=True):
    """One result per input, each ``{flagged, categories, category_scores, category_applied_input_types}``."""

    results: list[dict[str, Any]]
    usage: Usage
    id: str | None = None


# ---------------------------------------------------------------- speech


class SpeechRequest(msgspec.Struct, kw_only=True):
    """Text to speak.  ``voice`` is a name or a custom voice id (``custom_voice``: it came as OpenAI's
    ``{"id": ...}`` object); ``format`` the audio the client wants (``mp3`` when it did not say, as
    OpenAI); ``sse``: answer as ``speech.audio.delta`` events."""

    model: str
    text: str
    voice: str
    format: str = "mp3"
    speed: float | None = None
    instructions: str | None = None
    sse: bool = False
    language: str | None = None
    custom_voice: bool = False
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class SpeechResult(msgspec.Struct, kw_only=True):
    """Spoken audio in ``format`` (the format actually produced, never just the one asked for).

    ``pcm_rate`` set: ``audio`` is still raw 16-bit mono PCM at that rate, which the client codec encodes
    as ``format`` (CPU work: ``heavy`` tells the relay to encode off the event loop).
    """

    audio: bytes
    format: str
    usage: Usage
    pcm_rate: int | None = None

    @property
    def heavy(self) -> bool:
        """Encoding this result for the client is CPU work (transcoding)."""
        return self.pcm_rate is not None and self.format != "pcm"


# ---------------------------------------------------------------- transcription


class TranscriptionRequest(msgspec.Struct, kw_only=True):
    """Audio to transcribe (or translate to English, ``translate``).

    ``fields`` keeps every text field but ``model`` as sent, in order (``response_format``,
    ``timestamp_granularities[]``, ``chunking_strategy[type]``, fields the gateway does not know...), and
    ``other_files`` every file part beside ``file`` with its field name, for upstreams that speak the
    same form.  ``response_format`` is ``json`` when the client did not say (OpenAI's default; it is then
    not sent on).  ``seconds``: the duration measured from the upload, ``None`` when it cannot be read.
    """

    model: str
    file: MediaFile
    response_format: str = "json"
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    stream: bool = False
    translate: bool = False
    fields: list[tuple[str, str]] = msgspec.field(default_factory=list)
    other_files: list[tuple[str, MediaFile]] = msgspec.field(default_factory=list)
    seconds: float | None = None


class TranscriptionResult(msgspec.Struct, kw_only=True):
    """A transcript: ``text``, and what a verbose answer adds (``duration`` in seconds, segments, words)."""

    text: str
    usage: Usage
    language: str | None = None
    duration: float | None = None
    segments: list[dict[str, Any]] | None = None
    words: list[dict[str, Any]] | None = None
    body: dict[str, Any] | None = None
    """The upstream's JSON answer as it was, when it spoke OpenAI's format (kept for OpenAI clients)."""
    plain: str | None = None
    """The upstream's plain-text answer as it was (``text``, ``srt``, ``vtt`` formats)."""


# ---------------------------------------------------------------- images


class ImageInput(msgspec.Struct, frozen=True, kw_only=True):
    """A reference image: uploaded bytes, a URL (https or data:) the client gave, or an OpenAI file id."""

    file: MediaFile | None = None
    url: str | None = None
    file_id: str | None = None


class ImageRequest(msgspec.Struct, kw_only=True):
    """Make (or, with ``images``, edit) images from a prompt.

    Fields the client did not send stay ``None``: no size, count or quality is invented.  ``aspect_ratio``
    and ``resolution`` come from bodies that speak in ratios (Omni-Image, Gemini ``imageConfig``).
    ``input_region`` (Omni-Image: where the reference URLs are hosted, ``Mainland`` / ``Oversea`` /
    ``OverseaUSWest``) is a routing hint kept with the request and not sent to vendors.  ``extra``
    holds the client's other JSON fields, passed on only to OpenAI-compatible upstreams.
    """

    model: str
    prompt: str
    n: int | None = None
    size: str | None = None
    quality: str | None = None
    response_format: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    background: str | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    style: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    images: list[ImageInput] = msgspec.field(default_factory=list)
    mask: ImageInput | None = None
    input_region: str | None = None
    edit: bool = False
    user: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class GeneratedImage(msgspec.Struct, kw_only=True):
    """One image made: its bytes (base64) or a URL, its type, and a revised prompt when the vendor gives one."""

    b64: str | None = None
    url: str | None = None
    mime: str = "image/png"
    revised_prompt: str | None = None


class ImageResult(msgspec.Struct, kw_only=True):
    """The images made, in order, and what they used; what the vendor said it made (``size``, ``quality``,
    ``output_format``, ``background``) when it says."""

    images: list[GeneratedImage]
    usage: Usage
    created: int | None = None
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None
    background: str | None = None
