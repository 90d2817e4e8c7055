"""Real small video files for the mock's task vendors: an H.264 MP4 that decoders open, and its stills.

Encoded with PyAV (``av``: FFmpeg's maintained Python binding, wheels with libx264), not hand-written:
a container a real decoder accepts is the point.  PyAV is imported when a video is first asked for (the
rest of the mock does not pay for it).  Frames are small (the shape of the asked size scaled down to at
most 160 pixels on the long side), ``FPS`` a second, for the asked length; deterministic and cached.
"""

from __future__ import annotations

import io
from fractions import Fraction
from functools import lru_cache

import numpy as np

from omnirouter.mock_upstream import media_bytes

__all__ = ["FPS", "frame_size", "mp4", "ratio_size", "still"]

FPS = 8
_MAX_SIDE = 160


def ratio_size(ratio: str, short: int = 720) -> tuple[int, int]:
    """``(width, height)`` of aspect ratio ``ratio`` (``"16:9"``) with the short side ``short``, both even
    (16:9 when ``ratio`` is not one)."""
    left, _, right = ratio.partition(":")
    try:
        w, h = float(left), float(right)
    except ValueError:
        w, h = 16.0, 9.0
    if w <= 0 or h <= 0:
        w, h = 16.0, 9.0
    if w >= h:
        return 2 * round(short * w / h / 2), short
    return short, 2 * round(short * h / w / 2)


def frame_size(width: int, height: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled to at most 160 pixels on the long side, both even (H.264 wants that)."""
    scale = _MAX_SIDE / max(width, height, 1)
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    return w - w % 2, h - h % 2


@lru_cache(maxsize=32)
def mp4(seconds: float, width: int = 1280, height: int = 720, seed: int = 0) -> bytes:
    """An MP4 (H.264, yuv420p) lasting ``seconds`` (at least one frame) in the shape of ``width`` x ``height``."""
    import av

    w, h = frame_size(width, height)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.options = {"preset": "ultrafast", "crf": "35"}
        yy, xx = np.mgrid[0:h, 0:w]
        count = max(1, round(seconds * FPS))
        for index in range(count):
            shift = index * 256 // count
            r = (xx * 255 // max(1, w - 1) + shift + seed * 37) % 256
            g = (yy * 255 // max(1, h - 1) + seed * 59) % 256
            b = np.full((h, w), (seed * 97 + shift) % 256)
            pixels = np.stack([r, g, b], axis=-1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


@lru_cache(maxsize=32)
def still(fmt: str, width: int = 1280, height: int = 720, seed: int = 0) -> bytes:
    """A cover / last frame / thumbnail / spritesheet image (``jpeg`` or ``webp``) in the video's shape."""
    w, h = frame_size(width, height)
    return media_bytes.image(fmt, w, h, seed)
