"""Garbage-collector settings for a serving worker, applied once when it has started.

A started worker holds ~115,000 long-lived container objects (config, SQLAlchemy, codecs,
aiohttp, uvicorn).  With CPython's defaults a young collection runs every 700 net allocations
and a full one walks that whole heap: measured under load on the benchmark machine, ~45 µs of
collector time per request and full collections of ~65 ms each (a latency spike for every
request in flight).  After start-up the heap is frozen (``gc.freeze``: the objects that exist
now are never scanned again; they are still freed by reference counting) and young collections
run every ``YOUNG_THRESHOLD`` net allocations: requests free almost everything they allocate by
reference counting, so this keeps a collection to a few per thousand requests.  The C heap is tuned
at the same moment (``malloc_tuning``).
"""

from __future__ import annotations

import gc

from omnirouter.api.malloc_tuning import keep_heap_pad

YOUNG_THRESHOLD = 10_000


def tune_for_serving() -> None:
    """Collect once, freeze what exists (the worker's long-lived state) and space out young collections;
    keep a few MB of freed C heap (``keep_heap_pad``)."""
    keep_heap_pad()
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
