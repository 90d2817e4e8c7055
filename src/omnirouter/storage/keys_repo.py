"""Client keys as the admin API and the CLI manage them: create, change, rotate, revoke.

A raw key is returned exactly once (by create and rotate) and never stored: the row keeps its SHA-256
hash and a display prefix.  Rotating gives the same row (id, limits, spend) a new secret.  Revoking is
final; ``disabled`` pauses a key.  Keys named in the config file are read-only here.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage.credits_repo import record_credit
from omnirouter.storage.groups_repo import require_group
from omnirouter.storage.keys import display_prefix, generate_key, hash_key
from omnirouter.storage.models import KeyStatus, api_keys_table, utcnow
from omnirouter.storage.ownership import CONFIG_SOURCE, ConfigOwned
from omnirouter.storage.repo_common import (
    Conflict,
    Invalid,
    NotFound,
    as_utc,
    dump_json,
    load_json_list,
    load_json_object,
    nano_to_usd,
    usd_to_nano,
)
from omnirouter.storage.users_repo import require_user

__all__ = [
    "KeyCreate",
    "KeyPatch",
    "KeyView",
    "KeyWithSecret",
    "create_key",
    "get_key",
    "list_keys",
    "revoke_key",
    "rotate_key",
    "update_key",
    "user_key_hash",
]

KeyName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Patterns = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=256)]], msgspec.Meta(max_length=512)]
Usd = float | str
SettableStatus = Literal["active", "disabled"]
CallbackUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class KeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/keys``.  ``quota_usd`` null is unlimited; ``models`` / ``ip_allow`` null allow all."""

    name: KeyName
    user_id: int | None = None
    group: str | None = None
    quota_usd: Usd | None = None
    models: Patterns | None = None
    ip_allow: Patterns | None = None
    rpm: Limit | None = None
    tpm: Limit | None = None
    max_concurrent: Limit | None = None
    expires_at: datetime | None = None
    metadata: dict[str, Any] | None = None
    status: SettableStatus = "active"
    callback_url: CallbackUrl | None = None


class KeyPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /admin/keys/{id}``: only the fields sent change; ``null`` removes a limit or restriction."""

    name: KeyName | msgspec.UnsetType = msgspec.UNSET
    user_id: int | msgspec.UnsetType | None = msgspec.UNSET
    group: str | msgspec.UnsetType | None = msgspec.UNSET
    quota_usd: Usd | msgspec.UnsetType | None = msgspec.UNSET
    models: Patterns | msgspec.UnsetType | None = msgspec.UNSET
    ip_allow: Patterns | msgspec.UnsetType | None = msgspec.UNSET
    rpm: Limit | msgspec.UnsetType | None = msgspec.UNSET
    tpm: Limit | msgspec.UnsetType | None = msgspec.UNSET
    max_concurrent: Limit | msgspec.UnsetType | None = msgspec.UNSET
    expires_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    metadata: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
    status: SettableStatus | msgspec.UnsetType = msgspec.UNSET
    callback_url: CallbackUrl | msgspec.UnsetType | None = msgspec.UNSET


class KeyView(msgspec.Struct, kw_only=True):
    """A key as shown to admins and to its holder: never its hash or secret; money in USD."""

    id: int
    name: str
    prefix: str
    status: str
    source: str
    user_id: int | None
    group: str | None
    quota_usd: float | None
    used_usd: float
    reserved_usd: float
    remaining_usd: float | None
    models: list[str] | None
    ip_allow: list[str] | None
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    expires_at: datetime | None
    metadata: dict[str, Any] | None
    created_at: datetime
    callback_url: str | None = None


class KeyWithSecret(KeyView, kw_only=True):
    """A key just created or rotated, with its secret: shown this once."""

    key: str


def key_view(row: Any, owned: ConfigOwned) -> KeyView:
    """The view of an ``api_keys`` row."""
    used, reserved, quota = int(row.used_nano or 0), int(row.reserved_nano or 0), row.quota_nano
    return KeyView(
        id=row.id,
        name=row.name,
        prefix=row.key_prefix,
        status=row.status,
        source=CONFIG_SOURCE if row.key_hash in owned.key_hashes else "api",
        user_id=row.user_id,
        group=row.group_name,
        quota_usd=nano_to_usd(quota),
        used_usd=nano_to_usd(used) or 0.0,
        reserved_usd=nano_to_usd(reserved) or 0.0,
        remaining_usd=None if quota is None else nano_to_usd(max(0, quota - used - reserved)),
        models=load_json_list(row.models),
        ip_allow=load_json_list(row.ip_allow),
        rpm=row.rpm,
        tpm=row.tpm,
        max_concurrent=row.max_concurrent,
        expires_at=row.expires_at,
        metadata=load_json_object(row.key_metadata),
        created_at=row.created_at,
        callback_url=row.callback_url,
    )


def _with_secret(view: KeyView, secret: str) -> KeyWithSecret:
    return KeyWithSecret(**msgspec.structs.asdict(view), key=secret)


def _check_cidrs(cidrs: list[str] | None) -> None:
    for i, cidr in enumerate(cidrs or ()):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise Invalid(
                f"'ip_allow[{i}]': {cidr!r} is not an IP address or CIDR range (e.g. 10.0.0.0/8).",
                code="invalid_cidr",
                param=f"ip_allow[{i}]",
            ) from None


async def _columns(conn: AsyncConnection, fields: dict[str, Any], owned: ConfigOwned) -> dict[str, Any]:
    """Validate API fields and map them to ``api_keys`` columns."""
    values: dict[str, Any] = {}
    for field, value in fields.items():
        if field == "user_id":
            if value is not None:
                await require_user(conn, value)
            values["user_id"] = value
        elif field == "group":
            if value is not None:
                await require_group(conn, value, owned)
            values["group_name"] = value
        elif field == "quota_usd":
            values["quota_nano"] = None if value is None else usd_to_nano(value, field)
        elif field in ("models", "ip_allow"):
            if field == "ip_allow":
                _check_cidrs(value)
            values[field] = dump_json(value)
        elif field == "expires_at":
            values[field] = as_utc(value)
        elif field == "metadata":
            values["key_metadata"] = dump_json(value)
        else:  # name, rpm, tpm, max_concurrent, status, callback_url (checked by the route: it resolves it)
            values[field] = value
    return values


async def _row(conn: AsyncConnection, key_id: int) -> Any:
    row = (await conn.execute(select(api_keys_table).where(api_keys_table.c.id == key_id))).first()
    if row is None:
        raise NotFound(f"No key with id {key_id}.", code="key_not_found")
    return row


async def changeable_key(conn: AsyncConnection, key_id: int, owned: ConfigOwned, action: str) -> Any:
    """The key's row if the API may change it (``action``: "credited", "rotated", ...): else ``NotFound``, or
    ``Conflict`` for a config file's key or a revoked one."""
    row = await _row(conn, key_id)
    _refuse(row, owned, action)
    return row


def _refuse(row: Any, owned: ConfigOwned, action: str) -> None:
    if row.key_hash in owned.key_hashes:
        raise Conflict(
            f"The key {row.id} ({row.name!r}) comes from the config file and cannot be {action} here; "
            "change the config file instead.",
            code="config_managed",
        )
    if row.status == KeyStatus.REVOKED.value:
        raise Conflict(f"The key {row.id} is revoked; revoked keys cannot be {action}.", code="key_revoked")


async def get_key(conn: AsyncConnection, key_id: int, owned: ConfigOwned) -> KeyView:
    """One key, or ``NotFound``."""
    return key_view(await _row(conn, key_id), owned)


async def list_keys(
    conn: AsyncConnection, owned: ConfigOwned, *, user_id: int | None = None, status: str | None = None
) -> list[KeyView]:
    """Keys by id, optionally of one user and/or one status."""
    table = api_keys_table
    stmt = select(table).order_by(table.c.id)
    if user_id is not None:
        stmt = stmt.where(table.c.user_id == user_id)
    if status is not None:
        stmt = stmt.where(table.c.status == status)
    return [key_view(row, owned) for row in await conn.execute(stmt)]


async def user_key_hash(conn: AsyncConnection, key_id: int, user_id: int) -> str | None:
    """The stored hash of key ``key_id`` if it belongs to user ``user_id`` (a user's console session), else ``None``."""
    table = api_keys_table
    stmt = select(table.c.key_hash).where(table.c.id == key_id, table.c.user_id == user_id)
    found = (await conn.execute(stmt)).scalar()
    return None if found is None else str(found)


async def _record_quota_set(conn: AsyncConnection, key_id: int, old: int | None, new: int | None, actor: str) -> None:
    """A credit row for a quota set here (its difference, signed), so the key's credits sum to its quota."""
    if old == new:
        return
    note = "quota set to unlimited" if new is None else "quota set"
    await record_credit(
        conn, key_id=key_id, amount_nano=(new or 0) - (old or 0), quota_after_nano=new, source="quota", actor=actor,
        note=note,
    )  # fmt: skip


async def create_key(
    conn: AsyncConnection, body: KeyCreate, owned: ConfigOwned, *, actor: str = "admin"
) -> KeyWithSecret:
    """Store a new key with every field of ``body``; the result carries the raw key, this once.

    A quota is recorded as the key's first credit (``credits_repo``), by ``actor`` (``admin`` or ``cli``).
    """
    values = await _columns(conn, msgspec.structs.asdict(body), owned)
    secret = generate_key()
    values.update(
        key_hash=hash_key(secret), key_prefix=display_prefix(secret), created_at=utcnow(), source="api", used_nano=0
    )
    table = api_keys_table
    key_id = (await conn.execute(table.insert().values(values).returning(table.c.id))).scalar_one()
    await _record_quota_set(conn, int(key_id), None, values.get("quota_nano"), actor)
    return _with_secret(await get_key(conn, int(key_id), owned), secret)


async def update_key(
    conn: AsyncConnection, key_id: int, patch: KeyPatch, owned: ConfigOwned, *, actor: str = "admin"
) -> KeyView:
    """Change the fields ``patch`` sets (config-file and revoked keys are a ``Conflict``).

    A changed quota is recorded as a credit of the difference (``credits_repo``).  The row is locked
    first (a no-op write: the SQLite write lock, a PostgreSQL row lock), so a top-up committed meanwhile
    cannot slip between the quota read here and the one written.
    """
    if not isinstance(patch.quota_usd, msgspec.UnsetType):
        table = api_keys_table
        await conn.execute(update(table).where(table.c.id == key_id).values(quota_nano=table.c.quota_nano))
    row = await changeable_key(conn, key_id, owned, "changed")
    fields = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    values = await _columns(conn, fields, owned)
    if values:
        await conn.execute(update(api_keys_table).where(api_keys_table.c.id == key_id).values(values))
    if "quota_nano" in values:
        await _record_quota_set(conn, key_id, row.quota_nano, values["quota_nano"], actor)
    return await get_key(conn, key_id, owned)


async def rotate_key(conn: AsyncConnection, key_id: int, owned: ConfigOwned) -> KeyWithSecret:
    """Give the key a new secret (the old one stops working); the result carries it, this once."""
    await changeable_key(conn, key_id, owned, "rotated")
    secret = generate_key()
    values = {"key_hash": hash_key(secret), "key_prefix": display_prefix(secret)}
    await conn.execute(update(api_keys_table).where(api_keys_table.c.id == key_id).values(values))
    return _with_secret(await get_key(conn, key_id, owned), secret)


async def revoke_key(conn: AsyncConnection, key_id: int, owned: ConfigOwned) -> KeyView:
    """Revoke a key for good (revoking a revoked key changes nothing)."""
    row = await _row(conn, key_id)
    if row.status != KeyStatus.REVOKED.value:
        _refuse(row, owned, "revoked")
        stmt = update(api_keys_table).where(api_keys_table.c.id == key_id).values(status=KeyStatus.REVOKED.value)
        await conn.execute(stmt)
    return await get_key(conn, key_id, owned)
