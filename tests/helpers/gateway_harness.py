"""Run a real gateway (uvicorn over loopback HTTP) inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import uvicorn

from omnirouter.api import GatewayApp
from omnirouter.config import GatewayConfig
from omnirouter.http.server_protocol import HttpProtocol

CLIENT_KEY = "sk-test-client-0001"
UPSTREAM_KEY = "sk-upstream-secret-42"


def write_cli_config(path: Path, mock_url: str) -> str:
    """A config file for the command-line tests (SQLite beside it, one OpenAI channel on the mock, the file's key
    ``CLIENT_KEY``); its path."""
    path.write_text(
        f"""
database_url: sqlite:///{path.parent}/gw.db
usage_flush_interval: 0.05
reload_interval: 0.2
channels:
  - name: up
    provider: openai
    base_url: {mock_url}/v1
    api_keys: [{UPSTREAM_KEY}]
    models: [gpt-4o-mini, gpt-test*]
keys:
  - name: from-file
    key: {CLIENT_KEY}
"""
    )
    return str(path)


def make_config(mock_url: str, db_path: Path, **overrides: Any) -> GatewayConfig:
    """A config with one OpenAI channel on the mock and one client key."""
    raw: dict[str, Any] = {
        "database_url": f"sqlite:///{db_path}",
        "usage_flush_interval": 0.05,
        "channels": [
            {
                "name": "mock-openai",
                "provider": "openai",
                "base_url": f"{mock_url}/v1",
                "api_keys": [UPSTREAM_KEY],
                "models": ["gpt-4o-mini", "gpt-test*"],
                "model_map": {"gpt-4o-mini": "gpt-4o-mini-2024-07-18"},
            }
        ],
        "keys": [{"name": "tester", "key": CLIENT_KEY}],
    }
    raw.update(overrides)
    return msgspec.convert(raw, GatewayConfig)


class RunningGateway:
    """A gateway serving on a free loopback port."""

    def __init__(self, app: GatewayApp, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        self.app = app
        self.server = server
        self.task = task
        sockets = server.servers[0].sockets
        self.port: int = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


@contextlib.asynccontextmanager
async def running_gateway(
    config: GatewayConfig, *, tune_gc: bool = False, port: int = 0
) -> AsyncIterator[RunningGateway]:
    """Serve ``config`` until the block ends (then shut down gracefully, flushing usage); on ``port``
    (0: a free one), for a test whose config must name the gateway's own URL (``public_url``)."""
    app = GatewayApp(config, prepare=True, tune_gc=tune_gc)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            http=HttpProtocol,  # as in production (cli.py), so the tests cover it
            lifespan="on",
            log_level="warning",
            access_log=False,
        )
    )
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("gateway did not start")
        await asyncio.sleep(0.01)
    gateway = RunningGateway(app, server, task)
    try:
        yield gateway
    finally:
        await gateway.stop()


@contextlib.asynccontextmanager
async def raw_connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A plain TCP connection to the gateway, closed at the end even when the test fails."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
