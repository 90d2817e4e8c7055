from __future__ import annotations
import time
from typing import Any
import pytest
from tests.test_matrix import *  # noqa
from tests.test_matrix import directive, send, pairs, cells, image_server, matrix_gateway, driver  # noqa

CASES = {
    "refusal": dict(refusal="I can't help with that"),
    "block": dict(block="SAFETY"),
    "midfail": dict(text="one two three four five six", error_after=3, fail=529),
    "cut": dict(text="one two three four five six", cut_after=3),
}

@pairs
@cells
@pytest.mark.parametrize("case", list(CASES))
async def test_probe(driver: Any, upstream: str, stream: bool, case: str) -> None:
    t = time.monotonic()
    try:
        r = await send(driver, driver.start(None), upstream, UserTurn("q " + directive(**CASES[case])), stream)
        out = f"OK text={r.text!r} stop={r.stop!r} usage={r.usage}"
    except BaseException as e:
        out = f"EXC {type(e).__module__}.{type(e).__name__}: {str(e)[:120]!r}"
    print(f"\nPROBE {case} {driver.name}<-{upstream} {'stream' if stream else 'plain'} {time.monotonic()-t:.2f}s {out}")
