"""Request ids are unique, fixed-format and grow with time (so database indexes append at one end)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from omnirouter.relay.context import new_request_id

FORMAT = re.compile(r"req_[0-9a-f]{24}")


def test_ids_are_unique_well_formed_and_ordered_by_time() -> None:
    ids = []
    for _ in range(5):
        ids += [new_request_id() for _ in range(2000)]
        time.sleep(0.002)
    assert len(set(ids)) == len(ids)
    assert all(FORMAT.fullmatch(i) for i in ids)
    assert ids == sorted(ids)
    millis = int(ids[-1][4:16], 16)
    assert abs(millis - time.time() * 1000) < 5000


def test_other_processes_never_mint_the_same_ids() -> None:
    code = "from omnirouter.relay.context import new_request_id as n; print(' '.join(n() for _ in range(3000)))"
    batches = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        for _ in range(2)
    ]
    ours = [new_request_id() for _ in range(3000)]
    assert len({*batches[0], *batches[1], *ours}) == 9000
    assert len({i[-8:] for i in batches[0]} | {i[-8:] for i in batches[1]} | {i[-8:] for i in ours}) == 3
