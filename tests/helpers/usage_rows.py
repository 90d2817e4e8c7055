"""Reading and refusing usage rows in the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from omnirouter.storage import Database, normalize_database_url, usage_records_table


async def usage_rows(db_path: Path) -> list[dict[str, Any]]:
    db = Database(normalize_database_url(f"sqlite:///{db_path}"))
    try:
        async with db.engine.connect() as conn:
            result = await conn.execute(sa.select(usage_records_table).order_by(usage_records_table.c.id))
            return [dict(row._mapping) for row in result]
    finally:
        await db.close()


async def refuse_model(db: Database, model: str) -> None:
    """Make the database refuse usage rows of ``model`` (a trigger), as it would a row it cannot store."""
    async with db.engine.begin() as conn:
        if db.is_sqlite:
            await conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON usage_records "
                    f"WHEN NEW.model = '{model}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        else:
            await conn.execute(
                sa.text(
                    "CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.model = '{model}' THEN RAISE EXCEPTION 'refused by the test'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON usage_records "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
