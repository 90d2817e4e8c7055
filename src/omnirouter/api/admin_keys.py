"""``/admin/keys``: client keys (create → the secret once, change, rotate, revoke) and ``/admin/users``."""

from __future__ import annotations

from omnirouter.api.admin_common import (
    MAX_ID,
    AdminContext,
    AdminRequest,
    QueryParam,
    Reply,
    admin_route,
    listing,
    refusal,
)
from omnirouter.http.routes import Route
from omnirouter.storage import keys_repo, users_repo
from omnirouter.storage.keys_repo import KeyCreate, KeyPatch, KeyView, KeyWithSecret
from omnirouter.storage.users_repo import UserCreate, UserPatch, UserView
from omnirouter.tasks.webhooks import target_refusal

__all__ = ["key_routes", "user_routes"]

_KEY_STATUSES = ("active", "disabled", "revoked")
_USER_STATUSES = ("active", "disabled")


def _storable_user(user_id: object) -> None:
    """An id no row can have names no user (and would overflow the database's integer): the same 400."""
    if isinstance(user_id, int) and not 0 <= user_id <= MAX_ID:
        raise refusal(400, f"'user_id': no user with id {user_id}.", "unknown_user", "user_id")


async def _usable_callback(ctx: AdminContext, url: object) -> None:
    """A key's default ``callback_url`` must be a target the webhook sender will POST to (a 400 otherwise)."""
    if isinstance(url, str):
        reason = await target_refusal(url, ctx.gateway.config.image_fetch)
        if reason:
            raise refusal(400, f"'callback_url' cannot be used: {reason}.", "invalid_callback_url", "callback_url")


def key_routes(ctx: AdminContext) -> list[Route]:
    """The key routes."""

    async def list_keys(req: AdminRequest) -> Reply:
        user_id = req.integer("user_id", low=1)
        status = req.choice("status", _KEY_STATUSES, "") if req.text("status") else None
        found = await ctx.read(lambda conn: keys_repo.list_keys(conn, ctx.owned, user_id=user_id, status=status))
        return 200, listing(found)

    async def create_key(req: AdminRequest) -> Reply:
        body = await req.body(KeyCreate)
        _storable_user(body.user_id)
        await _usable_callback(ctx, body.callback_url)
        return 201, await ctx.write("keys", lambda conn: keys_repo.create_key(conn, body, ctx.owned))

    async def get_key(req: AdminRequest) -> Reply:
        key_id = req.int_param("id", "key")
        return 200, await ctx.read(lambda conn: keys_repo.get_key(conn, key_id, ctx.owned))

    async def update_key(req: AdminRequest) -> Reply:
        key_id = req.int_param("id", "key")
        patch = await req.body(KeyPatch)
        _storable_user(patch.user_id)
        await _usable_callback(ctx, patch.callback_url)
        return 200, await ctx.write("keys", lambda conn: keys_repo.update_key(conn, key_id, patch, ctx.owned))

    async def revoke_key(req: AdminRequest) -> Reply:
        key_id = req.int_param("id", "key")
        return 200, await ctx.write("keys", lambda conn: keys_repo.revoke_key(conn, key_id, ctx.owned))

    async def rotate_key(req: AdminRequest) -> Reply:
        key_id = req.int_param("id", "key")
        return 200, await ctx.write("keys", lambda conn: keys_repo.rotate_key(conn, key_id, ctx.owned))

    filters = (
        QueryParam("user_id", "only this user's keys", "integer"),
        QueryParam("status", "only keys in this status", enum=_KEY_STATUSES),
    )
    conflict = (400, 401, 404, 409)
    return [
        admin_route("GET", "/admin/keys", "List client keys (never their secrets)", list_keys, None, KeyView, True,
                    query=filters),
        admin_route("POST", "/admin/keys", "Create a client key; the answer shows its secret this once", create_key,
                    KeyCreate, KeyWithSecret, status=201, errors=conflict),
        admin_route("GET", "/admin/keys/{id}", "One client key", get_key, None, KeyView),
        admin_route("PATCH", "/admin/keys/{id}", "Change a key's name, limits, quota, models, IPs, group, expiry, "
                    "metadata, status (active / disabled) or callback_url", update_key, KeyPatch, KeyView,
                    errors=conflict),
        admin_route("DELETE", "/admin/keys/{id}", "Revoke a key for good", revoke_key, None, KeyView, errors=conflict),
        admin_route("POST", "/admin/keys/{id}/rotate", "Give a key a new secret (shown this once); the old one stops "
                    "working", rotate_key, None, KeyWithSecret, errors=conflict),
    ]  # fmt: skip


def user_routes(ctx: AdminContext) -> list[Route]:
    """The user routes."""

    async def list_users(req: AdminRequest) -> Reply:
        status = req.choice("status", _USER_STATUSES, "") if req.text("status") else None
        return 200, listing(await ctx.read(lambda conn: users_repo.list_users(conn, status=status)))

    async def create_user(req: AdminRequest) -> Reply:
        body = await req.body(UserCreate)
        return 201, await ctx.write("users", lambda conn: users_repo.create_user(conn, body))

    async def get_user(req: AdminRequest) -> Reply:
        user_id = req.int_param("id", "user")
        return 200, await ctx.read(lambda conn: users_repo.get_user(conn, user_id))

    async def update_user(req: AdminRequest) -> Reply:
        user_id = req.int_param("id", "user")
        patch = await req.body(UserPatch)
        return 200, await ctx.write("users", lambda conn: users_repo.update_user(conn, user_id, patch))

    async def disable_user(req: AdminRequest) -> Reply:
        user_id = req.int_param("id", "user")
        return 200, await ctx.write("users", lambda conn: users_repo.disable_user(conn, user_id))

    conflict = (400, 401, 404, 409)
    return [
        admin_route("GET", "/admin/users", "List users", list_users, None, UserView, True,
                    query=(QueryParam("status", "only users in this status", enum=_USER_STATUSES),)),
        admin_route("POST", "/admin/users", "Create a user", create_user, UserCreate, UserView, status=201,
                    errors=conflict),
        admin_route("GET", "/admin/users/{id}", "One user", get_user, None, UserView),
        admin_route("PATCH", "/admin/users/{id}", "Change a user (status disabled stops all their keys)", update_user,
                    UserPatch, UserView, errors=conflict),
        admin_route("DELETE", "/admin/users/{id}", "Disable a user (their keys stop working; history stays)",
                    disable_user, None, UserView),
    ]  # fmt: skip
