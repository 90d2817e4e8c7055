"""What a serving worker imports (docs/operations.md, "Memory").

The mock upstream (aiohttp's server, numpy, Pillow, PyAV: ~20 MB) loads only in demo mode, the
OpenTelemetry SDK only when traces are configured.  ``omnirouter serve`` migrates in a child process,
so a started one-worker server holds no Alembic (nor Mako and Pygments); Redis' client, PyJWT (Kling's
tokens), aiosmtplib (email alerts), argon2 (console passwords), SQLAlchemy's PostgreSQL dialect and the
realtime relay load at their first use, and work then.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.helpers.processes import free_port

SERVE_IMPORTS = "import omnirouter.cli, omnirouter.cli_demo, omnirouter.api.factory, omnirouter.gateway"

LAZY = (
    *("alembic", "mako", "pygments", "redis", "jwt", "cryptography", "aiosmtplib", "sqlalchemy.dialects.postgresql"),
    "omnirouter.realtime",  # imported at the first GET /v1/realtime (tests/realtime use it)
    "argon2",  # the console's passwords
)
"""What a started worker (SQLite, no Redis) must not hold: docs/operations.md, "Memory", has the MB each."""

# Runs `omnirouter serve` in this interpreter; once /health answers, prints the loaded modules and exits.
_STARTED_WORKER = """
import os, sys, threading, time, urllib.request
port = sys.argv[2]
def watch():
    for _ in range(1200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            break
        except Exception:
            time.sleep(0.1)
    print("MODULES " + " ".join(sorted(sys.modules)), flush=True)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from omnirouter.cli import main
sys.argv = ["omnirouter", "serve", "--config", sys.argv[1], "--port", port]
main()
"""


def _loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def _probe(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_serving_without_demo_mode_leaves_the_mock_upstream_unimported() -> None:
    mock = "omnirouter.mock_upstream"
    probe = f"{SERVE_IMPORTS}; import sys; print(sorted(m for m in sys.modules if m.startswith({mock!r})))"
    assert _probe(probe).strip() == "[]"


def test_the_tracing_sdk_and_exporter_are_not_imported_when_traces_are_off() -> None:
    # (redis 8 imports parts of the OpenTelemetry SDK's metrics on its own when installed: not ours.)
    tracing = ("opentelemetry.sdk.trace", "opentelemetry.exporter")
    probe = f"{SERVE_IMPORTS}; import sys; print(sorted(m for m in sys.modules if m.startswith({tracing!r})))"
    assert _probe(probe).strip() == "[]"


def test_a_started_worker_holds_no_migrations_redis_jwt_smtp_or_postgres_dialect(tmp_path: Path) -> None:
    config = tmp_path / "omnirouter.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path / 'gw.db'}\n"
        "channels:\n  - {name: up, provider: openai, base_url: 'http://127.0.0.1:9/v1', api_keys: [k], models: [m]}\n"
        "keys:\n  - {name: me, key: sk-lean-imports-test-key}\n"
        "log_level: warning\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", _STARTED_WORKER, str(config), str(free_port())],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    lines = [line for line in out.stdout.splitlines() if line.startswith("MODULES ")]
    assert lines, out.stdout + out.stderr
    modules = lines[0].split()[1:]
    assert "omnirouter.gateway" in modules and "omnirouter.storage.migrate" in modules  # it did start
    assert _loaded(modules, LAZY) == []
    assert (tmp_path / "gw.db").exists()  # the child process migrated it


def test_each_lazily_imported_package_loads_at_first_use_and_works() -> None:
    probe = f"""{SERVE_IMPORTS}
import asyncio, sys, orjson
from email.message import EmailMessage
LAZY = {{"jwt", "redis", "aiosmtplib", "argon2"}}
before = sorted({{m.split(".")[0] for m in sys.modules}} & LAZY)
from omnirouter.storage.passwords import hash_password, verify_password
encoded = hash_password("pw")
checks = [verify_password(encoded, "pw"), verify_password(encoded, "other"), verify_password("junk", "pw")]
from omnirouter.protocols.tasks.signing import kling_jwt
token = kling_jwt("access", "secret", 1_700_000_000)
import jwt
claims = jwt.decode(token, "secret", algorithms=["HS256"], options={{"verify_exp": False, "verify_nbf": False}})
from omnirouter.storage.redis import redis_client, redis_failures
from omnirouter.limits import RedisLimiter
client = redis_client("redis://127.0.0.1:6379/0")
failures = [f.__name__ for f in redis_failures(client)]
async def ping():
    try:
        return await client.ping()
    finally:
        await client.aclose()
pong = asyncio.run(ping())
from omnirouter.storage.database import upsert_insert
from omnirouter.storage import settings_table
pg = str(upsert_insert("postgresql")(settings_table).values(name="n", value=1).on_conflict_do_nothing().compile(
    dialect=__import__("sqlalchemy.dialects.postgresql", fromlist=["dialect"]).dialect()))
from omnirouter.notify.mail import send_mail
from omnirouter.config.notifications import NotifyEmailConfig
mail = asyncio.run(send_mail(NotifyEmailConfig(host="127.0.0.1", port=9, sender="a@b.c", to=["d@e.f"], timeout=2),
                             "e1", {{"type": "tasks.backlog", "data": {{"unfinished": 1, "threshold": 1}}}}))
print(orjson.dumps({{"before": before, "iss": claims["iss"], "failures": failures, "pong": pong,
                    "limiter": RedisLimiter.__name__, "pg": pg, "mail": mail, "checks": checks,
                    "after": sorted({{m.split(".")[0] for m in sys.modules}} & LAZY),
                    }}).decode())
"""
    result = orjson.loads(_probe(probe))
    assert result["before"] == []
    assert result["iss"] == "access"
    assert result["failures"] == ["RedisError", "OSError", "TimeoutError"]
    assert result["pong"] is True
    assert result["limiter"] == "RedisLimiter"
    assert "ON CONFLICT DO NOTHING" in result["pg"]
    assert result["mail"] == "127.0.0.1: SMTPConnectError"  # nothing listens on port 9: refused, reported
    assert result["checks"] == [True, False, False]
    assert result["after"] == ["aiosmtplib", "argon2", "jwt", "redis"]
