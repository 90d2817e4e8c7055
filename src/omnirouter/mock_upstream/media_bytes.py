"""Real media bytes: PNG/JPEG/WebP images and WAV/MP3/FLAC/Ogg-Opus/raw PCM audio, cached.

Everything is deterministic: the same arguments give the same bytes. ``padded`` grows a file to a
requested size in a way its format allows (PNG private chunk, JPEG comments, WAV/PCM silence,
MP3 ID3v2 padding, FLAC PADDING blocks), so a large answer still decodes.
"""

from __future__ import annotations

import io
import struct
import wave
import zlib
from functools import lru_cache

import numpy as np
import soundfile as sf
from PIL import Image

SPEECH_RATE = 24_000  # OpenAI pcm, Gemini TTS
CHARS_PER_SECOND = 15.0

# format -> (libsndfile format, subtype); wav and pcm are written directly.
_SOUNDFILE = {"mp3": ("MP3", "MPEG_LAYER_III"), "flac": ("FLAC", "PCM_16"), "opus": ("OGG", "OPUS")}
AUDIO_FORMATS = ("mp3", "wav", "flac", "opus", "pcm")
AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "opus": "audio/opus",
    "ogg_opus": "audio/ogg",
    "pcm": "audio/pcm",
    "aac": "audio/aac",
}
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


def speech_seconds(text: str, speed: float = 1.0) -> float:
    """Spoken length of ``text``: about 15 characters a second, at least 0.3 s, at most 300 s."""
    seconds = len(text) / CHARS_PER_SECOND / (speed if speed > 0 else 1.0)
    return round(min(300.0, max(0.3, seconds)), 1)


@lru_cache(maxsize=32)
def _samples(ms: int, rate: int) -> bytes:
    """16-bit little-endian mono samples: two soft tones with a gentle tremolo."""
    n = max(1, rate * ms // 1000)
    t = np.arange(n, dtype=np.float64) / rate
    wave_ = 0.25 * np.sin(2 * np.pi * 220 * t) + 0.15 * np.sin(2 * np.pi * 331 * t)
    wave_ *= 0.75 + 0.25 * np.sin(2 * np.pi * 3 * t)
    return (wave_ * 32767).astype("<i2").tobytes()


def pcm(seconds: float, rate: int = SPEECH_RATE) -> bytes:
    """Raw PCM, 16-bit signed little-endian mono, no header."""
    return _samples(round(seconds * 1000), rate)


def wav_header(data_size: int, rate: int = SPEECH_RATE) -> bytes:
    """A 44-byte RIFF/WAVE header for 16-bit mono PCM of ``data_size`` bytes."""
    return b"RIFF" + struct.pack(
        "<I4s4sIHHIIHH4sI", 36 + data_size, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16, b"data", data_size
    )


@lru_cache(maxsize=64)
def audio(fmt: str, seconds: float, rate: int = SPEECH_RATE) -> bytes:
    """Encoded audio of about ``seconds`` (``fmt`` one of AUDIO_FORMATS or ``ogg_opus``)."""
    raw = pcm(seconds, rate)
    if fmt == "pcm":
        return raw
    if fmt == "wav":
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(raw)
        return buf.getvalue()
    container, subtype = _SOUNDFILE["opus" if fmt == "ogg_opus" else fmt]
    out = io.BytesIO()
    sf.write(out, np.frombuffer(raw, dtype="<i2"), rate, format=container, subtype=subtype)
    return out.getvalue()


def measure_seconds(data: bytes) -> float | None:
    """Duration of an audio file the mock can decode (None otherwise)."""
    try:
        info = sf.info(io.BytesIO(data))
    except Exception:  # libsndfile raises its own error types for unknown formats
        return None
    return float(info.duration)


@lru_cache(maxsize=64)
def image(fmt: str, width: int, height: int, seed: int = 0) -> bytes:
    """A ``width`` x ``height`` gradient image whose colours depend on ``seed`` (png, jpeg or webp)."""
    width, height = max(1, min(width, 8192)), max(1, min(height, 8192))
    yy, xx = np.mgrid[0:height, 0:width]
    r = (xx * 255 // max(1, width - 1) + seed * 37) % 256
    g = (yy * 255 // max(1, height - 1) + seed * 59) % 256
    b = np.full((height, width), (seed * 97 + 64) % 256)
    pixels = np.stack([r, g, b], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    kind = {"jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}.get(fmt, "PNG")
    Image.fromarray(pixels).save(buf, kind, **({"quality": 85} if kind != "PNG" else {}))
    return buf.getvalue()


def parse_size(size: object, default: tuple[int, int] = (1024, 1024)) -> tuple[int, int]:
    """``"1536x1024"`` -> (1536, 1024); presets and anything else give ``default``."""
    if isinstance(size, str) and "x" in size:
        w, _, h = size.lower().partition("x")
        if w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0:
            return int(w), int(h)
    return default


def ratio_size(ratio: object, base: int = 1024) -> tuple[int, int]:
    """Pixel size for an aspect ratio such as ``"16:9"`` (the longer side ``base``)."""
    if isinstance(ratio, str) and ":" in ratio:
        a, _, b = ratio.partition(":")
        try:
            x, y = float(a), float(b)
        except ValueError:
            return base, base
        if x > 0 and y > 0:
            return (base, int(base * y / x)) if x >= y else (int(base * x / y), base)
    return base, base


def padded(data: bytes, fmt: str, size: int | None) -> bytes:
    """``data`` grown to about ``size`` bytes in a way ``fmt`` allows (unchanged when already larger)."""
    if not size or size <= len(data):
        return data
    extra = size - len(data)
    if fmt == "png":
        return _png_pad(data, extra)
    if fmt in ("jpeg", "jpg"):
        return _jpeg_pad(data, extra)
    if fmt == "wav":
        body = data[44:] + bytes(extra + (extra & 1))
        return wav_header(len(body)) + body
    if fmt == "mp3":
        return _id3_pad(extra) + data
    if fmt == "flac":
        return _flac_pad(data, extra)
    return data + bytes(extra + (extra & 1 if fmt == "pcm" else 0))  # pcm: silence; others: trailing bytes


def _png_pad(data: bytes, extra: int) -> bytes:
    payload = bytes(max(0, extra - 12))
    kind = b"omPd"  # ancillary, private, safe to copy
    chunk = struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    end = data.rfind(b"IEND") - 4
    return data[:end] + chunk + data[end:]


def _jpeg_pad(data: bytes, extra: int) -> bytes:
    segments = []
    while extra > 4:
        n = min(65533, extra - 4)
        segments.append(b"\xff\xfe" + struct.pack(">H", n + 2) + b" " * n)
        extra -= n + 4
    return data[:2] + b"".join(segments) + data[2:]


def _id3_pad(extra: int) -> bytes:
    n = max(0, min(extra - 10, (1 << 28) - 1))
    syncsafe = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x04\x00\x00" + syncsafe + bytes(n)


def _flac_pad(data: bytes, extra: int) -> bytes:
    # fLaC, then STREAMINFO (4-byte block header + 34 bytes); insert PADDING blocks right after it.
    head, rest = data[:8], data[42:]
    streaminfo = data[8:42]
    last = bool(head[4] & 0x80)
    blocks: list[tuple[int, bytes]] = []
    while extra > 4:
        n = min((1 << 24) - 1, extra - 4)
        blocks.append((n, bytes(n)))
        extra -= n + 4
    if not blocks:
        return data
    out = [head[:4], bytes([head[4] & 0x7F]), head[5:8], streaminfo]
    for i, (n, payload) in enumerate(blocks):
        flag = 0x80 if last and i == len(blocks) - 1 else 0
        out.append(bytes([flag | 1]) + n.to_bytes(3, "big") + payload)
    return b"".join(out) + rest
