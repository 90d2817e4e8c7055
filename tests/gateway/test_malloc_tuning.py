"""A serving worker keeps a few MB of freed C heap: relaying large answers (reads of 64-300 KB, freed once
sent) no longer hands memory back to the kernel and faults it in again for every read."""

from __future__ import annotations

import subprocess
import sys

import pytest

_READS = """
import resource, sys
from omnirouter.api.gc_tuning import tune_for_serving
if sys.argv[1] == "tuned":
    tune_for_serving()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(300):  # ~1.1 MB relayed each round, as 64 KiB and 300 KB reads
    reads = [bytes(65536) for _ in range(8)] + [bytes(300_000) for _ in range(2)]
    del reads
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _READS, mode], capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and /proc rusage are Linux's")
def test_a_tuned_worker_reuses_freed_heap_instead_of_faulting_it_in_again() -> None:
    untuned, tuned = _faults("default"), _faults("tuned")
    assert untuned > 10_000  # ~1 fault per 4 KiB: the heap top given back and taken again every round
    assert tuned < untuned / 20, (tuned, untuned)
