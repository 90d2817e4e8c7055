"""Storage: async SQLAlchemy engine, tables, Alembic migrations, the key store and repos; Redis clients (``redis``).

SQLite (WAL) by default, PostgreSQL for many replicas.  Everything above this
package sees only ``Database``, ``KeyStore`` and the migration entry point.
"""

from omnirouter.storage.accounts_models import (
    ChannelRow,
    CreditRow,
    GroupRow,
    PriceRow,
    RedemptionCodeRow,
    ReservationRow,
    SettingRow,
    UserRow,
    channels_table,
    credits_table,
    groups_table,
    prices_table,
    redemption_codes_table,
    reservations_table,
    settings_table,
    users_table,
)
from omnirouter.storage.console_sessions import ConsoleSessionRow, console_sessions_table
from omnirouter.storage.database import Database
from omnirouter.storage.keys import KeyRecord, KeyStore, generate_key, hash_key
from omnirouter.storage.migrate import alembic_config, is_current, migrate
from omnirouter.storage.models import (
    ApiKeyRow,
    Base,
    DeadLetterRow,
    KeyStatus,
    UsageRow,
    api_keys_table,
    dead_letters_table,
    response_states_table,
    usage_records_table,
)
from omnirouter.storage.response_states import ResponseStateStore
from omnirouter.storage.tasks_repo import TaskRow, tasks_table
from omnirouter.storage.url import normalize_database_url
from omnirouter.storage.webhooks_repo import TaskWebhookRow, task_webhooks_table

__all__ = [
    "ApiKeyRow",
    "Base",
    "ChannelRow",
    "ConsoleSessionRow",
    "CreditRow",
    "Database",
    "DeadLetterRow",
    "GroupRow",
    "KeyRecord",
    "KeyStatus",
    "KeyStore",
    "PriceRow",
    "RedemptionCodeRow",
    "ReservationRow",
    "ResponseStateStore",
    "SettingRow",
    "TaskRow",
    "TaskWebhookRow",
    "UsageRow",
    "UserRow",
    "alembic_config",
    "api_keys_table",
    "channels_table",
    "console_sessions_table",
    "credits_table",
    "dead_letters_table",
    "generate_key",
    "groups_table",
    "hash_key",
    "is_current",
    "migrate",
    "normalize_database_url",
    "prices_table",
    "redemption_codes_table",
    "reservations_table",
    "response_states_table",
    "settings_table",
    "task_webhooks_table",
    "tasks_table",
    "usage_records_table",
    "users_table",
]
