"""``/admin/keys/{id}/top-up``, ``/admin/keys/{id}/credits`` and ``/admin/redemptions``: money added to keys.

Top-ups go through ``billing.credits`` (``money.credit``, the one writer of money) and bump
``config_version`` like every key change.  Redemption batches only add rows no worker keeps in memory, so
they commit without a reload.  Codes are answered once, by the create; listings show a prefix.
"""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.api.admin_common import AdminContext, AdminRequest, QueryParam, Reply, admin_route, listing, refusal
from omnirouter.billing.credits import Redeemed, TopUp, top_up
from omnirouter.http.routes import Route
from omnirouter.storage import credits_repo, keys_repo, redemptions_repo
from omnirouter.storage.credits_repo import CreditList
from omnirouter.storage.redemptions_repo import STATES, BatchCreate, BatchCreated, CodeView

__all__ = ["credit_routes"]


class BatchDisabled(msgspec.Struct, kw_only=True):
    """``DELETE /admin/redemptions?batch=NAME``: how many unused codes were disabled."""

    object: str
    batch: str
    disabled: int


def credit_routes(ctx: AdminContext) -> list[Route]:
    """The top-up, credit history and redemption code routes."""

    async def top_up_key(req: AdminRequest) -> Reply:
        key_id = req.int_param("id", "key")
        body = await req.body(TopUp)
        return 200, await ctx.write("keys", lambda conn: top_up(conn, key_id, body, ctx.owned, actor="admin"))

    async def key_credits(req: AdminRequest) -> Reply:
        key_id = req.int_param("id", "key")

        async def read(conn: AsyncConnection) -> CreditList:
            await keys_repo.get_key(conn, key_id, ctx.owned)  # NotFound for an unknown key
            return await credits_repo.list_credits(conn, key_id)

        return 200, await ctx.read(read)

    async def create_batch(req: AdminRequest) -> Reply:
        body = await req.body(BatchCreate)
        return 201, await ctx.commit(lambda conn: redemptions_repo.create_batch(conn, body))

    async def list_codes(req: AdminRequest) -> Reply:
        batch = req.text("batch")
        state = req.choice("state", STATES, "") if req.text("state") else None
        limit = req.integer("limit", default=100, low=1, high=1000) or 100
        before = req.integer("before", low=1, high=2**63 - 1)
        found = await ctx.read(
            lambda conn: redemptions_repo.list_codes(conn, batch=batch, state=state, limit=limit, before=before)
        )
        return 200, listing(found)

    async def disable_code(req: AdminRequest) -> Reply:
        code_id = req.int_param("id", "redemption_code")
        return 200, await ctx.commit(lambda conn: redemptions_repo.disable_code(conn, code_id))

    async def disable_batch(req: AdminRequest) -> Reply:
        batch = req.text("batch")
        if batch is None:
            raise refusal(400, "Name the batch to disable: ?batch=NAME (or DELETE /admin/redemptions/{id}).",
                          "missing_batch", "batch")  # fmt: skip
        disabled = await ctx.commit(lambda conn: redemptions_repo.disable_batch(conn, batch))
        return 200, BatchDisabled(object="redemption_batch", batch=batch, disabled=disabled)

    filters = (
        QueryParam("batch", "only codes of this batch"),
        QueryParam("state", "only codes in this state", enum=STATES),
        QueryParam("limit", "at most this many (1-1000, default 100), newest first", "integer"),
        QueryParam("before", "only codes with a smaller id (the last id of the previous page)", "integer"),
    )
    conflict = (400, 401, 404, 409)
    return [
        admin_route("POST", "/admin/keys/{id}/top-up", "Add US dollars to a key's quota ({\"usd\", \"note\"}); "
                    "recorded as a credit", top_up_key, TopUp, Redeemed, errors=conflict),
        admin_route("GET", "/admin/keys/{id}/credits", "A key's credits (top-ups, redeemed codes, quota sets), "
                    "oldest first, and their exact sum", key_credits, None, CreditList),
        admin_route("POST", "/admin/redemptions", "Create a batch of redemption codes; the answer shows the codes "
                    "this once", create_batch, BatchCreate, BatchCreated, status=201, errors=(400, 401)),
        admin_route("GET", "/admin/redemptions", "List redemption codes (only their prefixes), newest first",
                    list_codes, None, CodeView, True, query=filters, errors=(400, 401)),
        admin_route("DELETE", "/admin/redemptions", "Disable every unused code of a batch (?batch=NAME)",
                    disable_batch, None, BatchDisabled, query=(QueryParam("batch", "the batch (required)"),)),
        admin_route("DELETE", "/admin/redemptions/{id}", "Disable an unused redemption code", disable_code, None,
                    CodeView, errors=conflict),
    ]  # fmt: skip
