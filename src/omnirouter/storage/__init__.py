"""Storage: async SQLAlchemy engine, tables, Alembic migrations and the key store.

SQLite (WAL) by default, PostgreSQL for many replicas.  Everything above this
package sees only ``Database``, ``KeyStore`` and the migration entry point.
"""

from omnirouter.storage.database import Database
from omnirouter.storage.keys import KeyRecord, KeyStore, generate_key, hash_key
from omnirouter.storage.migrate import alembic_config, migrate
from omnirouter.storage.models import (
    ApiKeyRow,
    Base,
    KeyStatus,
    UsageRow,
    api_keys_table,
    response_states_table,
    usage_records_table,
)
from omnirouter.storage.response_states import ResponseStateStore
from omnirouter.storage.url import normalize_database_url

__all__ = [
    "ApiKeyRow",
    "Base",
    "Database",
    "KeyRecord",
    "KeyStatus",
    "KeyStore",
    "ResponseStateStore",
    "UsageRow",
    "alembic_config",
    "api_keys_table",
    "generate_key",
    "hash_key",
    "migrate",
    "normalize_database_url",
    "response_states_table",
    "usage_records_table",
]
