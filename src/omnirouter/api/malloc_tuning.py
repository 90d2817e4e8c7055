"""glibc malloc settings for a serving worker: keep a few MB of freed heap instead of handing every
freed megabyte back to the kernel and faulting it in again.

A relayed 20 MB answer passes through the worker as 64-256 KiB reads.  With glibc's defaults the heap's
free top is given back (``brk``) as soon as it exceeds 128 KiB, and a read above the (dynamic) mmap
threshold is a fresh ``mmap``: each answer then took ~4,000-6,600 minor page faults (0.8-1.3 for every
4 KiB relayed), and the kernel's page zeroing was over half of the worker's CPU per answer.  Measured
at four concurrent 20 MB answers (bench/media_scenarios.py's ``big``): 23-27 ms of CPU per answer
with the defaults, 11 ms with these settings, faults 5-15 an answer.

- ``M_TOP_PAD`` 4 MiB: the heap grows in steps of 4 MiB more than asked and keeps 4 MiB free at its
  top when it shrinks: at most 4 MiB more resident than the defaults.
- ``M_MMAP_THRESHOLD`` 1 MiB: blocks under 1 MiB come from the heap (fixed: setting either turns off
  glibc's dynamic threshold, which would otherwise stay at 128 KiB here); larger ones are still mapped
  apart and returned at once.

Only with glibc (``mallopt`` found in the C library); elsewhere (musl, macOS) nothing is changed.
"""

from __future__ import annotations

import ctypes
import logging

__all__ = ["MMAP_THRESHOLD", "TOP_PAD", "keep_heap_pad"]

log = logging.getLogger("omnirouter")

_M_TOP_PAD = -2  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
TOP_PAD = 4 << 20
MMAP_THRESHOLD = 1 << 20


def keep_heap_pad() -> bool:
    """Apply the settings above to this process; False where the C library has no ``mallopt``."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_TOP_PAD, TOP_PAD) == 1 and mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1)
    if not done:
        log.debug("mallopt refused the heap settings; glibc's defaults stay")
    return done
