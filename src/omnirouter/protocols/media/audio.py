"""Audio bytes for the speech and transcription endpoints: WAV framing of raw PCM, transcoding PCM to the
formats a client asks for, and the duration of an uploaded file (billing by the second).

Encoding and decoding are done by maintained libraries, not by hand: ``soundfile`` (libsndfile: WAV,
FLAC, Ogg Opus, MP3 through LAME and mpg123; no AAC encoder exists there, so ``aac`` is refused) and, for
the durations libsndfile cannot read (MP4/M4A, ADTS AAC), ``mutagen`` (pure Python tag and stream-info
reader).  WAV framing uses the standard library's ``wave``.  Everything works on bytes in memory; encoding
is CPU work, so a caller with large inputs runs it in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import io
import struct
import wave

# numpy, soundfile (libsndfile) and mutagen are imported in the functions that use them: loaded at start
# they would cost every worker ~25 MB of memory that a gateway serving no audio never needs.

SPEECH_RATE = 24000  # OpenAI ``pcm`` and Gemini TTS: 24 kHz, 16-bit signed little-endian, mono

# OpenAI speech ``response_format`` → the Content-Type of the answer (docs/media.md).
AUDIO_CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}

# ``response_format`` → (libsndfile container, subtype).
_ENCODINGS: dict[str, tuple[str, str]] = {
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "flac": ("FLAC", "PCM_16"),
    "opus": ("OGG", "OPUS"),
    "wav": ("WAV", "PCM_16"),
}
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_STREAM_SIZE = 0xFFFFFFFF  # a RIFF size a stream cannot know yet, as streaming servers write it

# Upload Content-Types → a file extension, so mutagen can weigh formats it recognises by name (ADTS AAC).
_EXTENSIONS: dict[str, str] = {
    "audio/aac": ".aac",
    "audio/x-aac": ".aac",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/m4a": ".m4a",
    "video/mp4": ".mp4",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/flac": ".flac",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
}


class AudioFormatError(ValueError):
    """The audio cannot be produced as asked (a format without an encoder, a rate the codec lacks, ragged
    PCM): the caller answers 400 naming what is possible."""


def wav_from_pcm(pcm: bytes, rate: int = SPEECH_RATE, channels: int = 1, sample_width: int = 2) -> bytes:
    """``pcm`` (signed little-endian samples, interleaved) as a complete WAV file."""
    _check_frames(pcm, channels, sample_width)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(sample_width)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


def wav_stream_header(rate: int = SPEECH_RATE, channels: int = 1, width: int = 2) -> bytes:
    """The 44-byte header of a WAV stream whose length is not known yet: PCM, the RIFF and ``data`` sizes
    0xFFFFFFFF (what streaming TTS servers send; libsndfile and ``wave`` read the samples that follow)."""
    block_align = channels * width
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block_align, block_align, width * 8)
    return (
        b"RIFF"
        + struct.pack("<I", _STREAM_SIZE)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", _STREAM_SIZE)
    )


def _check_frames(pcm: bytes, channels: int, sample_width: int) -> None:
    if channels < 1 or sample_width < 1:
        raise AudioFormatError("PCM needs at least one channel and a sample width of at least one byte.")
    if len(pcm) % (channels * sample_width):
        raise AudioFormatError(
            f"The PCM data ({len(pcm)} bytes) is not a whole number of {channels * sample_width}-byte frames."
        )


def transcode_pcm(pcm: bytes, rate: int, fmt: str, channels: int = 1) -> bytes:
    """16-bit signed little-endian ``pcm`` encoded as ``fmt``: ``mp3``, ``flac``, ``opus`` (Ogg), ``wav``;
    ``pcm`` returns it unchanged.  ``AudioFormatError`` for ``aac`` (no encoder), an unknown format, a
    rate the codec cannot take (Opus: 8, 12, 16, 24 or 48 kHz) or ragged PCM.  Empty PCM gives a file with
    no samples (no bytes at all for mp3 and flac: libsndfile writes nothing)."""
    fmt = fmt.lower()
    _check_frames(pcm, channels, 2)
    if fmt == "pcm":
        return pcm
    if fmt not in _ENCODINGS:
        possible = ", ".join([*_ENCODINGS, "pcm"])
        raise AudioFormatError(f"Audio cannot be encoded as '{fmt}' here; possible formats: {possible}.")
    if fmt == "opus" and rate not in _OPUS_RATES:
        raise AudioFormatError(f"Opus cannot encode {rate} Hz audio; it takes {', '.join(map(str, _OPUS_RATES))} Hz.")
    container, subtype = _ENCODINGS[fmt]
    import numpy as np  # deferred: see the imports above
    import soundfile as sf

    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
    buffer = io.BytesIO()
    try:
        sf.write(buffer, samples, rate, format=container, subtype=subtype)
    except sf.SoundFileError as exc:
        raise AudioFormatError(f"Audio at {rate} Hz cannot be encoded as '{fmt}': {exc}") from None
    return buffer.getvalue()


def audio_duration(data: bytes, filename: str | None = None, content_type: str | None = None) -> float | None:
    """Seconds of audio in an uploaded file, or None when neither library can tell (WebM, garbage).

    libsndfile first (WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF…), then mutagen (MP4/M4A, ADTS AAC, and
    what libsndfile refused), which ``filename`` or ``content_type`` help to recognise.
    """
    if not data:
        return None
    seconds = _soundfile_duration(data)
    if seconds is None:
        seconds = _mutagen_duration(data, _hint_name(filename, content_type))
    return seconds


def _soundfile_duration(data: bytes) -> float | None:
    import soundfile as sf  # deferred: see the imports above

    try:
        info = sf.info(io.BytesIO(data))
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
        return None
    if info.samplerate <= 0 or info.frames <= 0:
        return None
    return float(info.frames) / float(info.samplerate)


def _hint_name(filename: str | None, content_type: str | None) -> str:
    if filename:
        return filename
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return "upload" + _EXTENSIONS.get(media_type, "")


def _mutagen_duration(data: bytes, name: str) -> float | None:
    import mutagen  # deferred: see the imports above

    buffer = io.BytesIO(data)
    buffer.name = name  # mutagen weighs formats by the file's name too
    try:
        found = mutagen.File(buffer)
    # mutagen parses hostile uploads: any parse failure means "unknown", never a 500.
    except Exception:
        return None
    length = getattr(getattr(found, "info", None), "length", None)
    if not isinstance(length, int | float) or not length > 0 or length == float("inf"):
        return None
    return float(length)
