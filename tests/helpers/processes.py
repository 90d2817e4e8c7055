"""The ``omnirouter`` command as a child process: start it, wait until it is healthy, stop it; run one of its
subcommands (``run_cli`` in a new process, ``cli`` in this one)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import urllib3

from omnirouter.cli import main

OMNIROUTER = [sys.executable, "-m", "omnirouter.cli"]


async def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it (a new process)."""
    return await asyncio.to_thread(
        subprocess.run, [*OMNIROUTER, *args], capture_output=True, text=True, timeout=60, check=False
    )


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The same command run in this process (faster: for the error cases)."""
    code = await asyncio.to_thread(main, list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out.out, out.err)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 30) -> None:
    http = urllib3.PoolManager()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.communicate()}")
        try:
            if http.request("GET", f"http://127.0.0.1:{port}/health", retries=False).status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return out


def start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*OMNIROUTER, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


class Output:
    """A child's stdout (``start`` merges stderr into it), read line by line in a thread, so that waiting
    for a line never blocks on a child that prints nothing more."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.process = process
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))

    def line_starting(self, prefix: str, timeout: float = 30) -> str:
        """The first line that starts with ``prefix``, once printed (fails if the child exits without it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(self.lines) if line.startswith(prefix)), None)
            if found is not None:
                return found
            if self.process.poll() is not None and not self._thread.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no line starting {prefix!r} in:\n" + "\n".join(self.lines))

    def stop(self) -> str:
        """SIGTERM the child, wait for it, and return everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self._thread.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return "\n".join(self.lines)
