"""The sign-in throttle's window with an injected clock (no waiting)."""

from __future__ import annotations

import pytest

from omnirouter.dashboard.throttle import MAX_FAILURES, WINDOW, SignInThrottle
from omnirouter.ir import GatewayError


def test_the_window_slides_and_addresses_are_apart() -> None:
    now = [1000.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    for i in range(MAX_FAILURES):
        throttle.check("10.0.0.1")
        throttle.failed("10.0.0.1")
        now[0] += 1 if i == 0 else 0.1
    with pytest.raises(GatewayError) as refused:
        throttle.check("10.0.0.1")
    assert refused.value.status == 429
    assert refused.value.retry_after == pytest.approx(1000.0 + WINDOW - now[0])
    throttle.check("10.0.0.2")  # another address is not held back
    now[0] = 1000.0 + WINDOW + 0.01  # the first failure leaves the window: one more try
    throttle.check("10.0.0.1")
    throttle.failed("10.0.0.1")
    with pytest.raises(GatewayError):
        throttle.check("10.0.0.1")
    now[0] += WINDOW  # every failure has left
    throttle.check("10.0.0.1")
