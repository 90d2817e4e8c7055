"""Users: people or services that own client keys.  Disabling a user stops every key of theirs.

A user may have a password (for signing in to the console; ``accounts.verify_user_password``): it is set
through ``password`` on create or change, stored only as an Argon2id hash (``storage/passwords.py``) and
never shown — a view says ``has_password``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.storage.accounts_models import users_table
from omnirouter.storage.models import api_keys_table, utcnow
from omnirouter.storage.passwords import hash_password
from omnirouter.storage.repo_common import Conflict, Invalid, NotFound, dump_json, load_json_object

__all__ = [
    "UserCreate",
    "UserPatch",
    "UserView",
    "create_user",
    "disable_user",
    "disabled_user_ids",
    "get_user",
    "list_users",
    "password_state",
    "require_user",
    "update_user",
    "user_by_name",
]

UserName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
UserStatus = Literal["active", "disabled"]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=1024)]
"""At least 8 characters; at most 1,024 (Argon2 takes any length, but a bound keeps requests small)."""


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/users``."""

    name: UserName
    email: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    status: UserStatus = "active"
    metadata: dict[str, Any] | None = None
    password: Password | None = None


class UserPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /admin/users/{id}``: only the fields sent change; ``null`` clears email and metadata."""

    name: UserName | msgspec.UnsetType = msgspec.UNSET
    email: Annotated[str, msgspec.Meta(max_length=256)] | msgspec.UnsetType | None = msgspec.UNSET
    status: UserStatus | msgspec.UnsetType = msgspec.UNSET
    metadata: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
    password: Password | msgspec.UnsetType | None = msgspec.UNSET  # null removes it (no sign-in)


class UserView(msgspec.Struct, kw_only=True):
    """A user as the admin API shows it; ``keys`` counts their keys that are not revoked."""

    id: int
    name: str
    email: str | None
    status: str
    metadata: dict[str, Any] | None
    created_at: datetime
    keys: int
    has_password: bool = False


def _view(row: Any, keys: int) -> UserView:
    return UserView(
        id=row.id,
        name=row.name,
        email=row.email,
        status=row.status,
        metadata=load_json_object(row.user_metadata),
        created_at=row.created_at,
        keys=keys,
        has_password=row.password_hash is not None,
    )


async def _key_counts(conn: AsyncConnection, user_ids: list[int] | None) -> dict[int, int]:
    keys = api_keys_table
    stmt = (
        select(keys.c.user_id, func.count())
        .where(keys.c.user_id.is_not(None), keys.c.status != "revoked")
        .group_by(keys.c.user_id)
    )
    if user_ids is not None:
        stmt = stmt.where(keys.c.user_id.in_(user_ids))
    return {int(user_id): int(count) for user_id, count in await conn.execute(stmt)}


async def list_users(conn: AsyncConnection, *, status: str | None = None) -> list[UserView]:
    """Every user (optionally of one status), by id."""
    stmt = select(users_table).order_by(users_table.c.id)
    if status is not None:
        stmt = stmt.where(users_table.c.status == status)
    rows = list(await conn.execute(stmt))
    counts = await _key_counts(conn, None)
    return [_view(row, counts.get(row.id, 0)) for row in rows]


async def get_user(conn: AsyncConnection, user_id: int) -> UserView:
    """One user, or ``NotFound``."""
    row = (await conn.execute(select(users_table).where(users_table.c.id == user_id))).first()
    if row is None:
        raise NotFound(f"No user with id {user_id}.", code="user_not_found")
    counts = await _key_counts(conn, [user_id])
    return _view(row, counts.get(user_id, 0))


async def user_by_name(conn: AsyncConnection, name: str) -> UserView | None:
    """The user called ``name``, if any."""
    found = (await conn.execute(select(users_table.c.id).where(users_table.c.name == name))).scalar()
    return None if found is None else await get_user(conn, int(found))


async def _name_taken(conn: AsyncConnection, name: str, other_than: int | None = None) -> None:
    stmt = select(users_table.c.id).where(users_table.c.name == name)
    found = (await conn.execute(stmt)).scalar()
    if found is not None and found != other_than:
        raise Conflict(f"A user named {name!r} already exists (id {found}).", code="user_exists", param="name")


async def create_user(conn: AsyncConnection, body: UserCreate) -> UserView:
    """Create a user; a taken name is a ``Conflict``."""
    password_hash = None if body.password is None else await asyncio.to_thread(hash_password, body.password)
    await _name_taken(conn, body.name)
    values = {
        "name": body.name,
        "email": body.email,
        "status": body.status,
        "user_metadata": dump_json(body.metadata),
        "created_at": utcnow(),
        "password_hash": password_hash,
    }
    try:
        user_id = (await conn.execute(users_table.insert().values(values).returning(users_table.c.id))).scalar_one()
    except IntegrityError:
        raise Conflict(f"A user named {body.name!r} already exists.", code="user_exists", param="name") from None
    return await get_user(conn, int(user_id))


async def update_user(conn: AsyncConnection, user_id: int, patch: UserPatch) -> UserView:
    """Change the fields ``patch`` sets; ``NotFound`` / ``Conflict`` as for create."""
    values: dict[str, Any] = {}
    if not isinstance(patch.password, msgspec.UnsetType):
        password = patch.password
        values["password_hash"] = None if password is None else await asyncio.to_thread(hash_password, password)
    await get_user(conn, user_id)
    if not isinstance(patch.name, msgspec.UnsetType):
        await _name_taken(conn, patch.name, user_id)
        values["name"] = patch.name
    if not isinstance(patch.email, msgspec.UnsetType):
        values["email"] = patch.email
    if not isinstance(patch.status, msgspec.UnsetType):
        values["status"] = patch.status
    if not isinstance(patch.metadata, msgspec.UnsetType):
        values["user_metadata"] = dump_json(patch.metadata)
    if values:
        await conn.execute(update(users_table).where(users_table.c.id == user_id).values(values))
    return await get_user(conn, user_id)


async def disable_user(conn: AsyncConnection, user_id: int) -> UserView:
    """Set a user's status to ``disabled`` (their keys stop working; their history stays)."""
    return await update_user(conn, user_id, UserPatch(status="disabled"))


async def disabled_user_ids(conn: AsyncConnection) -> set[int]:
    """Ids of disabled users (their keys are not loaded for authentication)."""
    stmt = select(users_table.c.id).where(users_table.c.status != "active")
    return {int(user_id) for user_id in (await conn.execute(stmt)).scalars()}


async def require_user(conn: AsyncConnection, user_id: int, field: str = "user_id") -> None:
    """``Invalid`` naming ``field`` unless a user with ``user_id`` exists."""
    found = (await conn.execute(select(users_table.c.id).where(users_table.c.id == user_id))).scalar()
    if found is None:
        raise Invalid(f"'{field}': no user with id {user_id}.", code="unknown_user", param=field)


async def password_state(conn: AsyncConnection, user_id: int) -> tuple[str, str, str | None] | None:
    """``(name, status, password_hash)`` of a user (what a console session checks), or ``None``."""
    table = users_table
    stmt = select(table.c.name, table.c.status, table.c.password_hash).where(table.c.id == user_id)
    row = (await conn.execute(stmt)).first()
    return None if row is None else (str(row.name), str(row.status), row.password_hash)
