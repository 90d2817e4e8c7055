"""Running the mock: in-process (``MockUpstream``) or as a blocking server (``serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import TracebackType
from typing import Any

from aiohttp import web

from omnirouter.mock_upstream.core import STATE_KEY, LoggedRequest, State
from omnirouter.mock_upstream.directives import parse_directive
from omnirouter.mock_upstream.server import create_app


class MockUpstream:
    """The mock on a local port, with in-process access to its request log and script queue."""

    def __init__(self, *, max_log: int = 10_000) -> None:
        self.app = create_app(max_log=max_log)
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def state(self) -> State:
        """The app's state (log, queue, counters)."""
        return self.app[STATE_KEY]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash, no ``/v1``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request received: dicts (also attribute access) with method, path, query,
        headers (lower-cased names), body (parsed JSON), provider and time."""
        return self.state.requests

    def script(self, directive: dict[str, Any], times: int = 1) -> None:
        """Queue ``directive`` for the next ``times`` generation requests (raises ValueError if invalid)."""
        self.state.queue.push(parse_directive(directive), directive, times)

    def clear_script(self) -> None:
        """Drop all queued directives."""
        self.state.queue.clear()

    def release(self) -> int:
        """Let the streams held by a ``hold_after`` directive go on; how many there were."""
        return self.state.release()

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.state.requests.clear()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> MockUpstream:
        """Listen on ``host:port`` (port 0 picks a free port)."""
        if self._runner is not None:
            return self
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.host = host
        self.port = int(runner.addresses[0][1])
        return self

    async def start_on(self, sock: socket.socket) -> MockUpstream:
        """Listen on a socket already bound (so its port is known before an event loop runs)."""
        if self._runner is not None:
            return self
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self.host, self.port = sock.getsockname()[:2]
        return self

    async def close(self) -> None:
        """Stop listening and close open connections."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> MockUpstream:
        return await self.start(self.host, self.port)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _serve_forever(host: str, port: int) -> None:
    mock = MockUpstream()
    await mock.start(host, port)
    print(f"omnirouter mock upstream listening on {mock.url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await mock.close()


def serve(host: str, port: int) -> None:
    """Run the mock until interrupted (uses uvloop when installed)."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is optional on some platforms
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(_serve_forever(host, port))
