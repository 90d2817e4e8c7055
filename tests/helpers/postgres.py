"""Throwaway PostgreSQL databases for the tests (PostgreSQL must be running: .ci/run starts it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from omnirouter.storage import Base, normalize_database_url

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped on exit.  PostgreSQL must be running (.ci/run starts it)."""
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"omnirouter_test_{uuid.uuid4().hex[:12]}"
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except (OSError, DBAPIError) as exc:
        await admin.dispose()
        raise RuntimeError(f"PostgreSQL is needed at 127.0.0.1:5432 for these tests: {exc}") from exc
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def reset_postgres(url: str) -> str:
    """Drop the gateway's tables so the next migration starts from nothing."""
    engine = create_async_engine(normalize_database_url(url), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            tables = ", ".join([*Base.metadata.tables, "usage_records_off", "alembic_version"])
            await conn.execute(text(f"DROP TABLE IF EXISTS {tables}"))
    finally:
        await engine.dispose()
    return url
