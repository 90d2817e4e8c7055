"""A real S3-compatible server for the result-store tests: moto's server mode in a child process on a
free port, with test credentials in the environment (botocore reads them like any deployment would)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import urllib3
from aiobotocore.session import get_session

from tests.helpers.processes import free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
BUCKET = "omnirouter-results"


@contextmanager
def moto_server() -> Iterator[str]:
    """The endpoint URL of a fresh moto server, stopped on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        http = urllib3.PoolManager()
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"moto server exited: {process.communicate()[1]}")
            try:
                if http.request("GET", f"{url}/moto-api/", retries=False).status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("moto server did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


@contextmanager
def s3_credentials() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@asynccontextmanager
async def s3_admin(endpoint: str) -> AsyncIterator[object]:
    """A plain S3 client on the server, for setting up buckets and looking behind the store's back."""
    async with get_session().create_client("s3", endpoint_url=endpoint, region_name="us-east-1") as client:
        yield client
