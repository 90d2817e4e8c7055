"""Alembic environment: runs on a connection handed over by ``omnirouter.storage.migrate``.

Used standalone (``alembic`` with a config built by ``alembic_config(url)``), it
opens its own async engine from ``sqlalchemy.url``; offline mode emits SQL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from omnirouter.storage.database import Database
from omnirouter.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await db.close()


def run() -> None:
    """Entry point Alembic executes."""
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url configured")
    asyncio.run(_run_with_own_engine(url))


run()
