"""Price groups: every cost of a key in the group is multiplied by the group's ``multiplier``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.config.bounds import Multiplier
from omnirouter.storage.accounts_models import groups_table
from omnirouter.storage.models import api_keys_table
from omnirouter.storage.ownership import CONFIG_SOURCE, ConfigOwned
from omnirouter.storage.repo_common import Conflict, Invalid, NotFound

__all__ = [
    "GroupCreate",
    "GroupPatch",
    "GroupView",
    "create_group",
    "delete_group",
    "get_group",
    "list_groups",
    "require_group",
    "update_group",
]

GroupName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^/\s]+$")]


class GroupCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/groups``: e.g. ``{"name": "vip", "multiplier": 0.8}``."""

    name: GroupName
    multiplier: Multiplier = 1.0
    description: str | None = None


class GroupPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /admin/groups/{name}``."""

    multiplier: Multiplier | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET


class GroupView(msgspec.Struct, kw_only=True):
    """A group; ``source`` is ``config`` for groups of the config file (read-only here)."""

    name: str
    multiplier: float
    description: str | None
    source: str


def _view(row: Any, owned: ConfigOwned) -> GroupView:
    source = CONFIG_SOURCE if row.source == CONFIG_SOURCE or row.name in owned.groups else "api"
    return GroupView(name=row.name, multiplier=row.multiplier, description=row.description, source=source)


async def list_groups(conn: AsyncConnection, owned: ConfigOwned) -> list[GroupView]:
    """Every group, by name."""
    rows = await conn.execute(select(groups_table).order_by(groups_table.c.name))
    return [_view(row, owned) for row in rows]


async def get_group(conn: AsyncConnection, name: str, owned: ConfigOwned) -> GroupView:
    """One group, or ``NotFound``."""
    row = (await conn.execute(select(groups_table).where(groups_table.c.name == name))).first()
    if row is None:
        raise NotFound(f"No group named {name!r}.", code="group_not_found")
    return _view(row, owned)


async def require_group(conn: AsyncConnection, name: str, owned: ConfigOwned, field: str = "group") -> None:
    """``Invalid`` naming ``field`` unless the group exists (in the database or the config file)."""
    if name in owned.groups:
        return
    found = (await conn.execute(select(groups_table.c.name).where(groups_table.c.name == name))).scalar()
    if found is None:
        raise Invalid(f"'{field}': no group named {name!r}; create it first.", code="unknown_group", param=field)


def _refuse_config(view: GroupView) -> None:
    if view.source == CONFIG_SOURCE:
        raise Conflict(f"The group {view.name!r} comes from the config file; change it there.", code="config_managed")


async def create_group(conn: AsyncConnection, body: GroupCreate, owned: ConfigOwned) -> GroupView:
    """Create a group; a name the config file or another group uses is a ``Conflict``."""
    if body.name in owned.groups:
        raise Conflict(f"The group {body.name!r} comes from the config file.", code="config_managed", param="name")
    exists = (await conn.execute(select(groups_table.c.name).where(groups_table.c.name == body.name))).scalar()
    if exists is not None:
        raise Conflict(f"A group named {body.name!r} already exists.", code="group_exists", param="name")
    values = {"name": body.name, "multiplier": body.multiplier, "description": body.description, "source": "api"}
    await conn.execute(groups_table.insert().values(values))
    return await get_group(conn, body.name, owned)


async def update_group(conn: AsyncConnection, name: str, patch: GroupPatch, owned: ConfigOwned) -> GroupView:
    """Change an API group's multiplier or description."""
    _refuse_config(await get_group(conn, name, owned))
    values = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    if values:
        await conn.execute(update(groups_table).where(groups_table.c.name == name).values(values))
    return await get_group(conn, name, owned)


async def delete_group(conn: AsyncConnection, name: str, owned: ConfigOwned) -> GroupView:
    """Delete an API group no key uses (a group in use is a ``Conflict``)."""
    view = await get_group(conn, name, owned)
    _refuse_config(view)
    keys = api_keys_table
    stmt = select(func.count()).where(keys.c.group_name == name, keys.c.status != "revoked")
    in_use = int((await conn.execute(stmt)).scalar_one())
    if in_use:
        raise Conflict(
            f"The group {name!r} is used by {in_use} key(s); move them to another group first.", code="group_in_use"
        )
    await conn.execute(delete(groups_table).where(groups_table.c.name == name))
    return view
