"""Walk the planned attempts until one answers, keeping channel health and upstream keys up to date.

Skipped without a request: channels whose breaker is open, channels at their
concurrency limit, channels with every upstream key set aside.  A failed attempt
moves on when its failure is retryable (connection, timeout, 429, 5xx, 529, an
upstream key refused) and happened before the client saw a byte; at most
``max_attempts`` requests go upstream.  An upstream key the upstream refuses (401,
403, 402, insufficient quota) is set aside and the same channel is tried again
with its next upstream key.  A short ``Retry-After`` on the last candidate is waited out once.
The client gets the last failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from omnirouter.config.schema import RoutingConfig
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.routing.planner import Attempt
from omnirouter.transport import AttemptFailure

RunOne = Callable[[Attempt, str], Awaitable[None]]


class AttemptLog(Protocol):
    """What the executor reads and notes on the request it serves (``relay.RequestContext`` is one).

    A structural type, so routing stays below relay and the calls are the context's own methods.
    """

    model: str
    attempts: int
    status: int
    error_kind: str | None

    def begin_attempt(self, channel: str, provider: str, model: str, upstream_model: str) -> None: ...

    def end_attempt(self, status: int, error: str | None = None) -> None: ...

    def note_skip(self, channel: str, reason: str) -> None: ...


_KEY_REJECTED = frozenset({401, 403})
_NO_CREDIT = frozenset({402})


def _is_channel_fault(failure: AttemptFailure) -> bool:
    """Whether a failure says something about the channel's health (not the request, not one upstream key)."""
    status = failure.upstream_status
    if status is None:
        return True  # unreachable, timeout, cut stream, garbage
    return status == 429 or status >= 500


def _key_cooldown(failure: AttemptFailure, config: RoutingConfig) -> float | None:
    """How long to set the used upstream key aside, if the upstream refused it."""
    status = failure.upstream_status
    if status in _KEY_REJECTED:
        return config.invalid_key_cooldown
    if status in _NO_CREDIT or failure.error.kind is ErrorKind.INSUFFICIENT_QUOTA:
        return config.no_credit_cooldown
    return None


async def run_attempts(attempts: Sequence[Attempt], ctx: AttemptLog, run_one: RunOne, config: RoutingConfig) -> None:
    """Try ``attempts`` in order; the first success ends it, the last failure is raised."""
    last: GatewayError | None = None
    waited = False
    index = 0
    while index < len(attempts) and ctx.attempts < config.max_attempts:
        attempt = attempts[index]
        channel = attempt.channel
        index += 1
        if channel.busy():
            ctx.note_skip(channel.name, "busy")
            continue
        if not channel.breaker.allow():
            ctx.note_skip(channel.name, "circuit_open")
            continue
        key = channel.upstream_keys.next_key()
        if key is None:
            channel.breaker.release_probe()
            ctx.note_skip(channel.name, "no_usable_key")
            continue
        ctx.begin_attempt(channel.name, channel.spec.kind.value, attempt.public_model, attempt.upstream_model)
        channel.in_flight += 1
        try:
            await run_one(attempt, key)
        except AttemptFailure as failure:
            ctx.end_attempt(failure.error.status, failure.error.kind.value)
            last = failure.error
            cooldown = _key_cooldown(failure, config)
            if cooldown is not None:
                channel.upstream_keys.set_aside(key, cooldown)
                channel.breaker.release_probe()
                if channel.upstream_keys.usable():
                    index -= 1  # the key was the problem, not the channel: try it again with the next key
                    continue
            elif _is_channel_fault(failure):
                channel.breaker.record_failure()
            else:
                channel.breaker.release_probe()
            if not failure.retryable:
                break
            retry_after = failure.error.retry_after
            last_candidate = index == len(attempts) and not waited
            if last_candidate and retry_after is not None and retry_after <= config.retry_after_max:
                waited = True
                index -= 1  # the last candidate asked for a short pause: honour it once and retry
                await asyncio.sleep(retry_after)
            continue
        except BaseException:
            channel.breaker.release_probe()
            raise
        else:
            ctx.end_attempt(ctx.status, ctx.error_kind)
            if ctx.error_kind is None or ctx.error_kind == "client_disconnected":
                channel.breaker.record_success()
            else:
                channel.breaker.record_failure()  # the stream broke after it started
            return
        finally:
            channel.in_flight -= 1
    if last is not None:
        try:
            raise last
        finally:
            # The error's traceback holds this frame: without this, frame and error would be a cycle
            # (keeping the request, its body and the call alive) that only the garbage collector frees.
            last = None
    raise GatewayError(
        ErrorKind.OVERLOADED,
        f"No channel can serve model '{ctx.model}' right now (all are cooling down, busy or out of keys).",
        code="no_available_channel",
    )
