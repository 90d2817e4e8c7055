"""Fixtures of the result-store tests: one real S3-compatible server (moto) for the session, and a
``store`` that is, in turn, a local directory and a fresh prefix of a bucket on that server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from omnirouter.storage.blobs import BlobStore
from omnirouter.storage.blobs_local import LocalBlobStore
from omnirouter.storage.blobs_s3 import MIN_PART_SIZE, S3BlobStore
from tests.helpers.s3_server import BUCKET, moto_server, s3_admin, s3_credentials


@pytest.fixture(scope="session")
async def s3_endpoint() -> AsyncIterator[str]:
    """A running moto server with the test bucket made and credentials in the environment."""
    with s3_credentials(), moto_server() as endpoint:
        async with s3_admin(endpoint) as admin:
            await admin.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        yield endpoint


@pytest.fixture
async def s3_client(s3_endpoint: str) -> AsyncIterator[Any]:
    async with s3_admin(s3_endpoint) as admin:
        yield admin


@pytest.fixture
async def s3_store(s3_endpoint: str) -> AsyncIterator[S3BlobStore]:
    store = S3BlobStore(BUCKET, f"test-{uuid.uuid4().hex}/blobs", endpoint_url=s3_endpoint, part_size=MIN_PART_SIZE)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[LocalBlobStore]:
    yield LocalBlobStore(tmp_path / "results")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    """The same suite over both backends."""
    fixture = "local_store" if request.param == "local" else "s3_store"
    found: BlobStore = request.getfixturevalue(fixture)
    return found
