"""A real Redis for tests (127.0.0.1:6379; .ci/run starts it): each test gets its own key prefix,
and only keys under that prefix are deleted afterwards (never FLUSHALL: the server may be shared)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.helpers.processes import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


def unique_prefix() -> str:
    return f"omnirouter-test-{uuid.uuid4().hex[:12]}:"


async def delete_prefix(client: Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)


@contextlib.asynccontextmanager
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """A client and a fresh prefix; the prefix's keys are deleted on exit."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        raise RuntimeError(f"Redis is needed at 127.0.0.1:6379 for these tests: {exc}") from exc
    prefix = unique_prefix()
    try:
        yield client, prefix
    finally:
        await delete_prefix(client, prefix)
        await client.aclose()


class PrivateRedis:
    """A ``redis-server`` of this test's own on a free port (nothing saved to disk), to stop and restart:
    what a replica sees when its Redis goes away mid-way and comes back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("these tests start a redis-server of their own: it must be on PATH")
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A started ``PrivateRedis``, stopped on exit."""
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
