"""Opening the upstream realtime socket (``websockets``' asyncio client), its failures as attempt failures.

A refused upgrade (the upstream's HTTP status and error body) or a socket that cannot be opened within
``RealtimeConfig.open_timeout`` fails the attempt before the client's handshake is answered, so the
executor moves on to the next channel exactly as for an HTTP call (``routing/executor.py``).
"""

from __future__ import annotations

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from omnirouter.config.schema import RealtimeConfig
from omnirouter.config.secrets import scrub
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.transport import RETRYABLE_STATUSES, AttemptFailure

__all__ = ["open_socket"]


async def open_socket(
    url: str, headers: dict[str, str], config: RealtimeConfig, channel: str, secrets: tuple[str, ...]
) -> ClientConnection:
    """The open upstream socket at ``url``, or ``AttemptFailure``."""
    try:
        return await connect(
            url,
            additional_headers=headers,
            user_agent_header=None,
            open_timeout=config.open_timeout,
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            close_timeout=5,
            max_size=config.max_frame_bytes,
            compression=None,
            proxy=None,
        )
    except InvalidStatus as exc:
        response = exc.response
        status = response.status_code
        error = OPENAI_CHAT.decode_error(status, bytes(response.body or b"")[:65536])
        error.message = scrub(error.message, secrets)
        retry = response.headers.get("retry-after")
        if error.retry_after is None and retry is not None and retry.replace(".", "", 1).isdigit():
            error.retry_after = float(retry)
        raise AttemptFailure(
            error, retryable=status in RETRYABLE_STATUSES or status >= 500, upstream_status=status
        ) from None
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        message = scrub(f"upstream channel {channel!r}: the realtime socket could not be opened ({exc})", secrets)
        raise AttemptFailure(GatewayError(ErrorKind.UPSTREAM, message), retryable=True) from None
