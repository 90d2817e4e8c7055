"""Walk the planned attempts until one answers; classify each failure as retryable or final."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.relay.context import RequestContext
from omnirouter.relay.upstream import AttemptFailure
from omnirouter.routing.planner import Attempt


async def run_attempts(
    attempts: Sequence[Attempt],
    ctx: RequestContext,
    run_one: Callable[[Attempt], Awaitable[None]],
) -> None:
    """Try ``attempts`` in order; the first success ends it, the last failure is raised."""
    last: GatewayError | None = None
    for attempt in attempts:
        ctx.attempts += 1
        ctx.channel = attempt.channel.name
        ctx.provider = attempt.channel.spec.kind.value
        ctx.upstream_model = attempt.upstream_model
        try:
            await run_one(attempt)
            return
        except AttemptFailure as failure:
            last = failure.error
            if not failure.retryable:
                break
    raise last or GatewayError(ErrorKind.NOT_FOUND, f"no channel serves model {ctx.model!r}")
