"""A real, small MP4 (H.264 in MP4, yuv420p) that decoders open, for the video task vendors; cached.

Made with PyAV (``av``: maintained bindings that bundle ffmpeg's encoders, so no system ffmpeg is
needed; a dev dependency, imported when a video is first asked for).  Deterministic: the same size and
length give the same bytes.  Frames are a moving gradient at ``FPS`` frames a second.
"""

from __future__ import annotations

import io
from fractions import Fraction
from functools import lru_cache

import numpy as np

FPS = 8
VIDEO_TYPE = "video/mp4"


def frame_size(ratio: str, short: int = 144) -> tuple[int, int]:
    """A small ``(width, height)`` of ``ratio`` (``"16:9"``), even sides, the short side ``short``."""
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


@lru_cache(maxsize=32)
def mp4(width: int, height: int, seconds: float) -> bytes:
    """An MP4 of ``seconds`` (at least one frame) at ``width`` x ``height``."""
    import av

    frames = max(1, round(seconds * FPS))
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.options = {"preset": "ultrafast", "crf": "35"}
        x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
        y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
        for index in range(frames):
            shift = 255 * index / frames
            rgb = np.stack([(x + shift) % 256 + 0 * y, (y + shift) % 256 + 0 * x, np.full((height, width), 96.0)], -1)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
