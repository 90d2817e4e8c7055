"""Audio helpers: what they produce is decoded back by libsndfile or ``wave`` with the right rate, channels
and duration; durations of uploads; magic-byte sniffing; hostile bytes never raise."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from omnirouter.protocols.media.audio import (
    AUDIO_CONTENT_TYPES,
    AudioFormatError,
    audio_duration,
    transcode_pcm,
    wav_from_pcm,
    wav_stream_header,
)
from omnirouter.protocols.media.sniff import sniff_audio_format, sniff_image_mime


def tone(seconds: float, rate: int = 24000, channels: int = 1) -> bytes:
    """A 440 Hz sine as 16-bit little-endian PCM, ``channels`` interleaved."""
    t = np.arange(int(seconds * rate)) / rate
    mono = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2")
    return np.repeat(mono[:, None], channels, axis=1).tobytes()


def decoded(data: bytes) -> tuple[int, int, float]:
    info = sf.info(io.BytesIO(data))
    return info.samplerate, info.channels, info.frames / info.samplerate


def test_wav_from_pcm_is_a_wav_of_those_samples() -> None:
    pcm = tone(1.5)
    data = wav_from_pcm(pcm)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) == 44 + len(pcm)
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (24000, 1, 2)
        assert reader.readframes(reader.getnframes()) == pcm
    stereo = wav_from_pcm(tone(0.5, 16000, 2), rate=16000, channels=2)
    assert decoded(stereo) == (16000, 2, 0.5)


def test_wav_stream_header_has_unknown_sizes_and_still_decodes() -> None:
    header = wav_stream_header(24000, 1, 2)
    assert len(header) == 44
    assert header[4:8] == b"\xff\xff\xff\xff" and header[40:44] == b"\xff\xff\xff\xff"
    riff, _, wave_id, fmt_id, fmt_size, code, channels, rate, byte_rate, align, bits = struct.unpack(
        "<4sI4s4sIHHIIHH", header[:36]
    )
    assert (riff, wave_id, fmt_id, fmt_size, code) == (b"RIFF", b"WAVE", b"fmt ", 16, 1)
    assert (channels, rate, byte_rate, align, bits) == (1, 24000, 48000, 2, 16)
    pcm = tone(2.0)
    samples, sample_rate = sf.read(io.BytesIO(header + pcm), dtype="int16")
    assert sample_rate == 24000 and samples.tobytes() == pcm
    with wave.open(io.BytesIO(header + pcm)) as reader:
        assert reader.getframerate() == 24000
        assert reader.readframes(10**9) == pcm
    assert struct.unpack("<HIIH", wav_stream_header(48000, 2, 2)[22:34]) == (2, 48000, 192000, 4)


@pytest.mark.parametrize(("fmt", "magic"), [("mp3", None), ("flac", b"fLaC"), ("opus", b"OggS"), ("wav", b"RIFF")])
@pytest.mark.parametrize(("rate", "channels"), [(24000, 1), (48000, 2), (16000, 1)])
def test_transcoded_audio_decodes_with_the_right_rate_channels_and_length(
    fmt: str, magic: bytes | None, rate: int, channels: int
) -> None:
    data = transcode_pcm(tone(2.0, rate, channels), rate, fmt, channels=channels)
    if magic is not None:
        assert data.startswith(magic)
    assert sniff_audio_format(data) == {"opus": "ogg"}.get(fmt, fmt)
    sample_rate, got_channels, seconds = decoded(data)
    assert (sample_rate, got_channels) == (rate, channels)
    assert seconds == pytest.approx(2.0, rel=0.05)
    assert audio_duration(data) == pytest.approx(2.0, rel=0.05)


def test_opus_is_an_ogg_opus_stream() -> None:
    data = transcode_pcm(tone(1.0), 24000, "opus")
    assert b"OpusHead" in data[:100]
    assert sf.info(io.BytesIO(data)).subtype == "OPUS"


def test_pcm_stays_pcm_and_wav_keeps_the_samples() -> None:
    pcm = tone(0.25)
    assert transcode_pcm(pcm, 24000, "pcm") is pcm
    samples, _ = sf.read(io.BytesIO(transcode_pcm(pcm, 24000, "WAV")), dtype="int16")
    assert samples.tobytes() == pcm


@pytest.mark.parametrize("fmt", ["aac", "ogg", "m4a", ""])
def test_formats_without_an_encoder_are_refused_by_name(fmt: str) -> None:
    with pytest.raises(AudioFormatError, match=f"'{fmt}'.*possible formats: mp3, flac, opus, wav, pcm"):
        transcode_pcm(tone(0.1), 24000, fmt)


def test_opus_at_a_rate_it_lacks_and_ragged_pcm_are_refused() -> None:
    with pytest.raises(AudioFormatError, match="Opus cannot encode 22050 Hz"):
        transcode_pcm(tone(0.1, 22050), 22050, "opus")
    with pytest.raises(AudioFormatError, match="not a whole number of 2-byte frames"):
        transcode_pcm(b"\x00\x01\x02", 24000, "mp3")
    with pytest.raises(AudioFormatError, match="4-byte frames"):
        wav_from_pcm(b"\x00" * 6, channels=2)
    assert issubclass(AudioFormatError, ValueError)


def test_content_types_follow_media_md() -> None:
    assert AUDIO_CONTENT_TYPES == {
        "mp3": "audio/mpeg",
        "opus": "audio/opus",
        "aac": "audio/aac",
        "flac": "audio/flac",
        "wav": "audio/wav",
        "pcm": "audio/pcm",
    }


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_of(seconds: float) -> bytes:
    """The smallest MP4 a reader takes a length from: ``ftyp``, then ``moov`` holding an ``mvhd``."""
    timescale = 1000
    mvhd = b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, timescale, int(seconds * timescale)) + bytes(80)
    return box(b"ftyp", b"M4A \x00\x00\x00\x00M4A mp42isom") + box(b"moov", box(b"mvhd", mvhd))


def test_duration_of_mp4_audio_comes_from_mutagen() -> None:
    data = mp4_of(12.5)
    with pytest.raises(sf.SoundFileError):
        sf.info(io.BytesIO(data))  # libsndfile cannot read it: the duration below is mutagen's
    assert sniff_audio_format(data) == "mp4"
    assert audio_duration(data, "memo.m4a", "audio/mp4") == pytest.approx(12.5)
    assert audio_duration(data) == pytest.approx(12.5)


def test_duration_of_wav_uploads_including_streamed_ones() -> None:
    assert audio_duration(wav_from_pcm(tone(3.0, 16000), rate=16000)) == pytest.approx(3.0)
    assert audio_duration(wav_stream_header() + tone(1.0)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "data", [b"", b"not audio at all", b"\x1a\x45\xdf\xa3" + bytes(100), b"RIFF\x00\x00\x00\x00WAVE", bytes(4096)]
)
def test_unknown_durations_are_none(data: bytes) -> None:
    assert audio_duration(data, "clip.webm", "audio/webm") is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([None, "a.m4a", "a.aac", "a.mp3", "a.wav"]))
def test_duration_of_arbitrary_bytes_is_a_number_or_none(data: bytes, filename: str | None) -> None:
    seconds = audio_duration(data, filename)
    assert seconds is None or seconds > 0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"RIFF\x10\x00\x00\x00WAVE", mp4_of(1.0)[:30]]))
def test_duration_of_truncated_files_with_real_signatures_is_safe(head: bytes) -> None:
    seconds = audio_duration(head + bytes(64), content_type="audio/aac")
    assert seconds is None or seconds > 0


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"GIF87a", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"\x89PNG", None),
        (b"", None),
        (b"<svg xmlns=", None),
    ],
)
def test_sniff_image_mime(data: bytes, mime: str | None) -> None:
    assert sniff_image_mime(data) == mime


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x64", "mp3"),  # MPEG-1 layer III
        (b"\xff\xf3\x84\xc4", "mp3"),  # MPEG-2 layer III (what LAME writes at 24 kHz)
        (b"\xff\xe3\x18\xc4", "mp3"),  # MPEG-2.5 layer III
        (b"\xff\xf1\x50\x80", "aac"),  # ADTS, MPEG-4
        (b"\xff\xf9\x50\x80", "aac"),  # ADTS, MPEG-2
        (b"\x00\x00\x00\x20ftypM4A ", "mp4"),
        (b"\x1a\x45\xdf\xa3\x9f", "webm"),
        (b"\xff\xeb\x00", None),  # sync, but the reserved MPEG version
        (b"\xff\xf9", "aac"),
        (b"\xff", None),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", None),
        (b"", None),
    ],
)
def test_sniff_audio_format(data: bytes, fmt: str | None) -> None:
    assert sniff_audio_format(data) == fmt
