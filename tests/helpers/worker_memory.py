"""A gateway worker in a process of its own (``omnirouter serve --workers 1``), whose memory growth over
one request is measured from the kernel's peak RSS: ``/proc/PID/clear_refs`` ← ``5`` resets the peak
(``VmHWM``) to the current RSS, and the peak after the request less the RSS at the reset is the most
the worker grew meanwhile, however briefly.  Nothing is timed: the peak is kept by the kernel.

The test process (client and mock) is not measured, unlike with ``tracemalloc`` in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.helpers.gateway_harness import CLIENT_KEY

__all__ = ["MB", "Worker", "serving_worker"]

MB = 1024 * 1024
_SRC = Path(__file__).resolve().parents[2] / "src"


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


class Worker:
    """The running worker: its URL, its database file and its memory."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, db_path: Path) -> None:
        self.process = process
        self.url = url
        self.db_path = db_path
        self._baseline = 0

    def reset_peak(self) -> None:
        """Start a measurement: the kernel's peak RSS is set to the RSS now."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        self._baseline = _status_kb(self.process.pid, "VmRSS:") * 1024

    def growth(self) -> int:
        """Bytes the worker's RSS rose above the RSS at ``reset_peak``, at its highest since."""
        return _status_kb(self.process.pid, "VmHWM:") * 1024 - self._baseline


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving_worker(tmp_dir: Path, channels: list[dict[str, Any]], **extra: Any) -> AsyncIterator[Worker]:
    """One worker serving ``channels`` with the harness's client key (SQLite in ``tmp_dir``), stopped at the end."""
    port = _free_port()
    db_path = tmp_dir / "worker.db"
    config = {
        "host": "127.0.0.1",
        "port": port,
        "database_url": f"sqlite:///{db_path}",
        "usage_flush_interval": 0.05,
        "log_level": "warning",
        "channels": channels,
        "keys": [{"name": "tester", "key": CLIENT_KEY}],
        **extra,
    }
    path = tmp_dir / "worker.yaml"
    path.write_bytes(orjson.dumps(config))  # JSON is YAML
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_SRC), os.environ.get("PYTHONPATH", "")])}
    log = (tmp_dir / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "omnirouter", "serve", "--config", str(path), "--workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                if process.poll() is not None:
                    raise RuntimeError(f"the worker exited: {(tmp_dir / 'worker.log').read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url + "/health") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the worker did not start")
        yield Worker(process, url, db_path)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        log.close()
