"""The ``omnirouter`` command line."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
from typing import Any

from omnirouter.cli_channels import add_channels_commands
from omnirouter.cli_keys import add_keys_commands, add_redemptions_commands, add_usage_command
from omnirouter.cli_tasks import add_tasks_commands
from omnirouter.config import ConfigError, GatewayConfig, load_config

_NO_SETUP_HINT = """\
No channels or client keys are configured yet. To serve models, write a config file:

  channels:
    - name: my-openai
      provider: openai                  # openai | anthropic | gemini
      base_url: https://api.openai.com/v1
      api_keys: [${OPENAI_API_KEY}]
      models: [gpt-4o-mini]
  keys:
    - name: me
      key: sk-my-own-client-key

and start it with:  omnirouter serve --config omnirouter.yaml
"""


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from omnirouter.api.admin import ADMIN_KEY_ENV, admin_key_from
    from omnirouter.api.factory import CONFIG_ENV
    from omnirouter.cli_demo import DEMO_FACTORY, DEMO_PRICES, demo_banner, generate_admin_key
    from omnirouter.cli_prepare import migrate_in_child
    from omnirouter.gateway import DemoSetup, prepare_database
    from omnirouter.http.server_protocol import HttpProtocol
    from omnirouter.observability import configure_logging
    from omnirouter.observability.multiprocess import run_directory
    from omnirouter.storage import is_current, normalize_database_url
    from omnirouter.storage.keys import generate_key

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"omnirouter: config error: {exc}", file=sys.stderr)
        return 2
    host = args.host or config.host
    port = args.port if args.port is not None else config.port
    workers = args.workers or config.workers
    configure_logging(config)  # each worker configures its own too (api/factory.py)
    demo_key = generate_key()  # used only if demo mode turns out to be on (docs/operations.md, "Demo mode")
    try:
        if not asyncio.run(is_current(normalize_database_url(config.database_url))):
            migrate_in_child(normalize_database_url(config.database_url))  # Alembic stays out of this process
        demo = asyncio.run(prepare_database(config, DemoSetup(demo_key, DEMO_PRICES) if config.demo else None))
    except Exception as exc:
        print(f"omnirouter: cannot prepare the database {config.database_url!r}: {exc}", file=sys.stderr)
        return 1
    _print_banner(config, host, port, workers, args.config, demo)
    if demo:
        shown = None  # an admin key of the config or the environment is the operator's: not printed
        if admin_key_from(config.admin_key) is None:  # the workers read it from the environment (api/admin.py)
            os.environ[ADMIN_KEY_ENV] = shown = generate_admin_key()
        database = _database_text(config.database_url)
        print(demo_banner(host=host, port=port, key=demo_key, admin_key=shown, database=database), flush=True)
    os.environ[CONFIG_ENV] = os.path.abspath(args.config) if args.config else ""
    with run_directory(workers):  # several workers: the metrics' shared directory (observability/multiprocess.py)
        factory = DEMO_FACTORY if demo else "omnirouter.api.factory:create_app"
        _run_uvicorn(uvicorn, HttpProtocol, config, host, port, workers, factory)
    return 0


def _run_uvicorn(
    uvicorn: Any, protocol: type, config: GatewayConfig, host: str, port: int, workers: int, factory: str
) -> None:
    # Recent uvicorn kills a worker that does not answer its supervisor's ping within 5 s, and a worker
    # importing the gateway on a loaded machine can take longer: give it 30 s where the option exists.
    options: dict[str, Any] = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        options["timeout_worker_healthcheck"] = 30
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=protocol,  # omnirouter's lean httptools protocol, with a request-header deadline (http/server_protocol.py)
        lifespan="on",
        access_log=False,
        log_config=None,  # uvicorn's own lines go through the gateway's handler (format, masked secrets)
        log_level=config.log_level,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=30,
        backlog=4096,
        proxy_headers=False,  # the client address is the peer; see accounts/access.py
        server_header=False,  # no "server: uvicorn" on every answer
        **options,
    )


def _database_text(url: str) -> str:
    """The database URL, with the absolute path of a SQLite file (``sqlite:///omnirouter.db`` is relative)."""
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(prefix) and url != prefix + ":memory:":
            return f"{url} ({os.path.abspath(url.removeprefix(prefix))})"
    return url


def _print_banner(config: GatewayConfig, host: str, port: int, workers: int, path: str | None, demo: bool) -> None:
    source = path or "embedded defaults"
    print(f"omnirouter: serving on http://{host}:{port} ({workers} worker(s), config: {source})", flush=True)
    print(f"omnirouter: database {config.database_url}; health check at http://{host}:{port}/health", flush=True)
    if not demo and (not config.channels or not config.keys):
        print(_NO_SETUP_HINT, flush=True)


def _mock_upstream(args: argparse.Namespace) -> int:
    from omnirouter.mock_upstream import serve

    serve(args.host, args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnirouter", description="Self-hosted AI model gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="YAML config file (default: embedded defaults)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.set_defaults(run=_serve)
    mock = commands.add_parser("mock-upstream", help="run the mock upstream provider (OpenAI, Anthropic, Gemini)")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=9001)
    mock.set_defaults(run=_mock_upstream)
    add_channels_commands(commands)
    add_keys_commands(commands)
    add_redemptions_commands(commands)
    add_usage_command(commands)
    add_tasks_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
