"""Demo mode: ``omnirouter serve`` with no channel configured serves demo models from the built-in mock.

The mock upstream (``mock_upstream/``, the deterministic stand-in for OpenAI, Anthropic and Gemini the
tests use) runs inside each worker, on the worker's own event loop, on a loopback port bound before the
worker's gateway is built (``create_demo_app``, the uvicorn factory of demo mode).  Three channels reach
it, one per upstream protocol, so a request in any client protocol is either passed through or
translated exactly as it would be with real upstreams.  The decision (no channel in the file nor in the
database, ``demo: true``), the demo key and the admin key are the job of ``omnirouter serve`` before the
workers start (``cli.py``); a worker leaves demo mode by itself when an API channel appears
(``Gateway.end_demo``).  docs/operations.md, "Demo mode".
"""

from __future__ import annotations

import os
import secrets
import shlex
import socket
from typing import TYPE_CHECKING

import msgspec
import orjson

from omnirouter.api.app import GatewayApp
from omnirouter.api.factory import CONFIG_ENV
from omnirouter.config import ChannelConfig, GatewayConfig, PriceConfig, load_config
from omnirouter.observability import configure_logging
from omnirouter.providers import ProviderKind

if TYPE_CHECKING:
    from omnirouter.mock_upstream import MockUpstream

__all__ = [
    "DEMO_FACTORY",
    "DEMO_MODELS",
    "DEMO_PRICES",
    "DemoMock",
    "create_demo_app",
    "demo_banner",
    "demo_channels",
    "demo_config",
    "generate_admin_key",
]

DEMO_FACTORY = "omnirouter.cli_demo:create_demo_app"
_MOCK_KEY = "sk-mock-demo"  # the mock takes any key but those starting "bad" / "invalid"
_MOCK_LOG = 200  # the mock keeps its last requests in memory; a demo needs few

# Public model -> (channel, provider, served upstream through OpenAI's Responses API)
_MODELS: dict[str, tuple[str, ProviderKind, bool]] = {
    "gpt-4o-mini": ("mock", ProviderKind.OPENAI, False),
    "gpt-4.1-mini": ("mock", ProviderKind.OPENAI, True),
    "claude-haiku-4-5": ("mock-anthropic", ProviderKind.ANTHROPIC, False),
    "gemini-2.5-flash": ("mock-gemini", ProviderKind.GEMINI, False),
}
DEMO_MODELS: tuple[str, ...] = tuple(_MODELS)

# The vendors' list prices (USD per 1M tokens), so the ledger and the console show realistic costs.
DEMO_PRICES: dict[str, PriceConfig] = {
    "gpt-4o-mini": PriceConfig(input=0.15, output=0.60),
    "gpt-4.1-mini": PriceConfig(input=0.40, output=1.60),
    "claude-haiku-4-5": PriceConfig(input=1.00, output=5.00),
    "gemini-2.5-flash": PriceConfig(input=0.30, output=2.50),
}


def demo_channels(mock_url: str) -> list[ChannelConfig]:
    """The demo channels: ``mock`` (OpenAI: Chat Completions and Responses), ``mock-anthropic``, ``mock-gemini``."""
    channels: list[ChannelConfig] = []
    for name in dict.fromkeys(channel for channel, _, _ in _MODELS.values()):
        served = [(model, kind, responses) for model, (channel, kind, responses) in _MODELS.items() if channel == name]
        kind = served[0][1]
        channels.append(
            ChannelConfig(
                name=name,
                provider=kind,
                base_url=f"{mock_url}/v1" if kind is ProviderKind.OPENAI else mock_url,
                api_keys=[_MOCK_KEY],
                models=[model for model, _, _ in served],
                responses_models=[model for model, _, responses in served if responses],
            )
        )
    return channels


def demo_config(config: GatewayConfig, mock_url: str) -> GatewayConfig:
    """``config`` (which has no channels) with the demo channels and the demo prices (the file's win)."""
    return msgspec.structs.replace(config, channels=demo_channels(mock_url), prices={**DEMO_PRICES, **config.prices})


class DemoMock:
    """The mock upstream as a companion of one worker's gateway, on a loopback socket bound up front."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        # Imported here: the mock (aiohttp's server, numpy, Pillow, PyAV) costs ~20 MB that a worker out of
        # demo mode must not carry (``omnirouter serve`` imports this module to decide).
        from omnirouter.mock_upstream import MockUpstream

        self.mock = MockUpstream(max_log=_MOCK_LOG)

    async def start(self) -> MockUpstream:
        return await self.mock.start_on(self.sock)

    async def close(self) -> None:
        await self.mock.close()
        self.sock.close()


def create_demo_app() -> GatewayApp:
    """The uvicorn factory of demo mode: this worker's mock, and a gateway whose channels reach it."""
    base = load_config(os.environ.get(CONFIG_ENV) or None)
    configure_logging(base)  # a worker process does not inherit the parent's handlers
    mock = DemoMock()
    return GatewayApp(demo_config(base, mock.url), tune_gc=True, demo=True, companions=[mock])


def generate_admin_key() -> str:
    """A random admin key for a demo without one configured (valid until the process stops)."""
    return "sk-admin-" + secrets.token_urlsafe(30)


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def demo_banner(*, host: str, port: int, key: str, admin_key: str | None, database: str) -> str:
    """What ``omnirouter serve`` prints in demo mode: the URLs, the keys and a curl line to paste."""
    base = f"http://{_client_host(host)}:{port}"
    body = orjson.dumps({"model": DEMO_MODELS[0], "messages": [{"role": "user", "content": "Hello!"}]}).decode()
    curl = shlex.join(
        [
            "curl", "-sS", f"{base}/v1/chat/completions",
            "-H", f"Authorization: Bearer {key}",
            "-H", "Content-Type: application/json",
            "-d", body,
        ]
    )  # fmt: skip
    admin = admin_key if admin_key is not None else "(yours: admin_key in the config, or $OMNIROUTER_ADMIN_KEY)"
    rule = "=" * 100
    return "\n".join(
        [
            rule,
            "omnirouter is in DEMO MODE: no channel is configured, so the built-in mock upstream answers.",
            "Answers are the mock's ('Echo: <your text>'), not a real model's; nothing leaves this machine.",
            f"  gateway:     {base}  (OpenAI /v1/chat/completions and /v1/responses, Anthropic /v1/messages,",
            "               Gemini /v1beta/models/{model}:generateContent)",
            f"  demo models: {', '.join(DEMO_MODELS)} (channels: mock, mock-anthropic, mock-gemini)",
            f"  console:     {base}/dashboard",
            f"  database:    {database}",
            f"  admin key:   {admin}",
            "Your demo client key (revoked when demo mode ends):",
            f"demo key: {key}",
            "Try it (paste into a shell):",
            curl,
            "Demo mode ends as soon as a channel is configured: channels in a config file "
            "(omnirouter serve --config FILE) or one created with POST /admin/channels.",
            rule,
        ]
    )
