"""What a file is, from its first bytes (magic numbers), for uploads whose name or Content-Type is missing
or wrong.  A few fixed signatures: no library needed (``filetype``/``puremagic`` would add a dependency for
less than twenty lines)."""

from __future__ import annotations


def sniff_image_mime(data: bytes) -> str | None:
    """``image/png``, ``image/jpeg``, ``image/webp`` or ``image/gif`` by signature, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def sniff_audio_format(data: bytes) -> str | None:
    """The format of an audio file by signature, named like OpenAI's upload extensions: ``wav``, ``flac``,
    ``ogg``, ``mp3`` (ID3 tag or an MPEG audio frame), ``aac`` (ADTS), ``mp4`` (``ftyp`` box: m4a, mp4),
    ``webm`` (EBML); else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data.startswith(b"fLaC"):
        return "flac"
    if data.startswith(b"OggS"):
        return "ogg"
    if data.startswith(b"ID3"):
        return "mp3"
    if data[4:8] == b"ftyp":
        return "mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        version, layer = (data[1] >> 3) & 0b11, (data[1] >> 1) & 0b11
        if layer == 0 and data[1] & 0xF6 == 0xF0:
            return "aac"  # ADTS: 12-bit sync, layer 00
        if version != 0b01 and layer != 0:
            return "mp3"  # MPEG audio frame: 11-bit sync, a defined version and layer
    return None
