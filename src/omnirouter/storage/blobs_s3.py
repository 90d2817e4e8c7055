"""The S3-compatible result store: ``s3://bucket/prefix`` on AWS S3, MinIO, R2, Ceph or moto's server.

``PREFIX/<name>`` holds the bytes (with their Content-Type) and ``PREFIX/.meta/<name>.json`` what was
stored (content type, size, SHA-256), written after the bytes: the metadata is the commit point, as in
the local store.  The SHA-256 cannot ride on the object itself: it is known only after a multipart upload
has begun, and S3 takes user metadata only when an upload starts.

Client: ``aiobotocore`` (aio-libs, maintained, botocore's own signing, retries and endpoint handling,
but asynchronous, so streamed reads and uploads don't need a thread per request as ``boto3`` would).
Uploads larger than one part go up as a multipart upload, one part buffered at a time (memory bounded by
the part size); an upload that fails is aborted.  Credentials and region come from the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``/``AWS_DEFAULT_REGION``) via botocore's
usual chain.  Checksums are computed only where S3 requires them, which S3-compatible servers accept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from omnirouter.storage.blobs import CHUNK_SIZE, BlobNotFound, OpenedBlob, StoredBlob, check_blob_name

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["MIN_PART_SIZE", "S3BlobStore"]

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part but the last
META = ".meta"


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


class _BodyChunks:
    """The streamed body of a GET, closed at its end or by ``aclose()``."""

    def __init__(self, body: Any) -> None:
        self._body: Any = body

    def __aiter__(self) -> _BodyChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._body is None:
            raise StopAsyncIteration
        try:
            data: bytes = await self._body.read(CHUNK_SIZE)
        except BaseException:
            await self.aclose()
            raise
        if not data:
            await self.aclose()
            raise StopAsyncIteration
        return data

    async def aclose(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


class _Empty:
    def __aiter__(self) -> _Empty:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def aclose(self) -> None:
        return None


class S3BlobStore:
    """A ``BlobStore`` in an S3 bucket under a key prefix; the client is made on first use."""

    def __init__(
        self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, part_size: int = 8 * 1024 * 1024
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.part_size = part_size
        self._lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self._s3: S3Client | None = None

    async def _client(self) -> S3Client:
        async with self._lock:
            if self._s3 is None:
                config = AioConfig(
                    s3={"addressing_style": "path"} if self.endpoint_url else {},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    retries={"mode": "standard"},
                )
                region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                stack = AsyncExitStack()
                creator = get_session().create_client(
                    "s3", region_name=region, endpoint_url=self.endpoint_url, config=config
                )
                self._s3 = await stack.enter_async_context(creator)
                self._stack = stack
            s3: S3Client = self._s3
            return s3

    def _key(self, name: str) -> str:
        name = check_blob_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _meta_key(self, name: str) -> str:
        name = f"{META}/{check_blob_name(name)}.json"
        return f"{self.prefix}/{name}" if self.prefix else name

    async def put(self, name: str, chunks: AsyncIterator[bytes], content_type: str) -> StoredBlob:
        key, meta_key = self._key(name), self._meta_key(name)
        s3 = await self._client()
        digest = hashlib.sha256()
        size = 0
        pending: list[bytes] = []  # the next part's chunks, joined once when the part is full
        pending_size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        async def upload(data: bytes) -> None:
            nonlocal upload_id
            if upload_id is None:
                started = await s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
                upload_id = started["UploadId"]
            number = len(parts) + 1
            answer = await s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= self.part_size:
                    data = b"".join(pending)
                    pending.clear()
                    pending_size = 0
                    await upload(data)
                    del data
            data = b"".join(pending)
            pending.clear()
            if upload_id is None:
                await s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
            else:
                if data:
                    await upload(data)
                await s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                )
                upload_id = None
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id))
            raise
        blob = StoredBlob(name, size, digest.hexdigest(), content_type)
        record = {"content_type": content_type, "size": size, "sha256": blob.sha256}
        await s3.put_object(
            Bucket=self.bucket, Key=meta_key, Body=json.dumps(record).encode(), ContentType="application/json"
        )
        return blob

    async def stat(self, name: str) -> StoredBlob:
        s3 = await self._client()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=self._meta_key(name))
        except ClientError as error:
            if _missing(error):
                raise BlobNotFound(name) from None
            raise
        async with answer["Body"] as body:
            record = json.loads(await body.read())
        return StoredBlob(name, int(record["size"]), str(record["sha256"]), str(record["content_type"]))

    async def _get(self, name: str, byte_range: str | None) -> Any:
        s3 = await self._client()
        try:
            if byte_range is None:
                return await s3.get_object(Bucket=self.bucket, Key=self._key(name))
            return await s3.get_object(Bucket=self.bucket, Key=self._key(name), Range=byte_range)
        except ClientError as error:
            if _missing(error):
                raise BlobNotFound(name) from None
            raise

    async def open(self, name: str) -> OpenedBlob:
        blob = await self.stat(name)
        answer = await self._get(name, None)
        return OpenedBlob(blob.content_type, int(answer["ContentLength"]), _BodyChunks(answer["Body"]))

    async def open_range(self, name: str, start: int, end: int) -> _BodyChunks | _Empty:
        blob = await self.stat(name)
        if not 0 <= start <= end <= blob.size:
            raise ValueError(f"range [{start}, {end}) is outside blob {name!r} of {blob.size} bytes")
        if start == end:
            return _Empty()
        answer = await self._get(name, f"bytes={start}-{end - 1}")
        return _BodyChunks(answer["Body"])

    async def _delete_keys(self, keys: list[str]) -> None:
        s3 = await self._client()
        for first in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[first : first + 1000]]
            await s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]

    async def delete(self, name: str) -> None:
        s3 = await self._client()
        await s3.delete_object(Bucket=self.bucket, Key=self._meta_key(name))  # invisible first, then the bytes
        await s3.delete_object(Bucket=self.bucket, Key=self._key(name))

    async def delete_older_than(self, cutoff: datetime) -> int:
        if cutoff.tzinfo is None:
            raise ValueError("cutoff must be timezone-aware")
        s3 = await self._client()
        root = f"{self.prefix}/" if self.prefix else ""
        meta_root = f"{root}{META}/"
        data: dict[str, datetime] = {}
        metas: dict[str, datetime] = {}
        async for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root):
            for item in page.get("Contents", []):
                key, when = item["Key"], item["LastModified"]
                if key.startswith(meta_root):
                    metas[key.removeprefix(meta_root).removesuffix(".json")] = when
                else:
                    data[key.removeprefix(root)] = when
        # S3 reports whole seconds: a blob shown at second t was stored in [t, t+1), so only t+1 <= cutoff
        # proves it older (none stored after the cutoff is ever removed).
        cutoff -= timedelta(seconds=1)
        doomed = [name for name, when in data.items() if when <= cutoff]
        removed = sum(1 for name in doomed if name in metas)
        orphans = [name for name, when in metas.items() if name not in data and when <= cutoff]
        keys = [f"{meta_root}{name}.json" for name in [*doomed, *orphans] if name in metas]
        await self._delete_keys(keys + [f"{root}{name}" for name in doomed])
        async for uploads in s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=root):
            for upload in uploads.get("Uploads", []):
                if upload["Initiated"] <= cutoff:
                    await s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return removed

    async def close(self) -> None:
        async with self._lock:
            if self._stack is not None:
                await self._stack.aclose()
            self._stack = None
            self._s3 = None
