"""``/admin/groups``, ``/admin/prices`` and ``/admin/channels/{name}``: what is sold, at what price, from where.

Objects of the config file are listed with ``source: "config"`` and answer 409 to changes; the API owns
the rest (``docs/accounts.md``: "Config file and API objects").
"""

from __future__ import annotations

from omnirouter.api.admin_common import AdminContext, AdminRequest, QueryParam, Reply, admin_route, listing
from omnirouter.api.admin_price_table import price_table_routes
from omnirouter.config.schema import ChannelConfig
from omnirouter.http.routes import Route
from omnirouter.storage import channels_repo, groups_repo, prices_repo
from omnirouter.storage.channels_repo import ChannelPatch, ChannelView
from omnirouter.storage.groups_repo import GroupCreate, GroupPatch, GroupView
from omnirouter.storage.prices_repo import PriceCreate, PricePatch, PriceView

__all__ = ["catalog_routes"]

_CONFLICT = (400, 401, 404, 409)


def group_routes(ctx: AdminContext) -> list[Route]:
    """The group routes."""

    async def list_groups(req: AdminRequest) -> Reply:
        return 200, listing(await ctx.read(lambda conn: groups_repo.list_groups(conn, ctx.owned)))

    async def create_group(req: AdminRequest) -> Reply:
        body = await req.body(GroupCreate)
        return 201, await ctx.write("groups", lambda conn: groups_repo.create_group(conn, body, ctx.owned))

    async def get_group(req: AdminRequest) -> Reply:
        name = req.params["name"]
        return 200, await ctx.read(lambda conn: groups_repo.get_group(conn, name, ctx.owned))

    async def update_group(req: AdminRequest) -> Reply:
        name = req.params["name"]
        patch = await req.body(GroupPatch)
        return 200, await ctx.write("groups", lambda conn: groups_repo.update_group(conn, name, patch, ctx.owned))

    async def delete_group(req: AdminRequest) -> Reply:
        name = req.params["name"]
        return 200, await ctx.write("groups", lambda conn: groups_repo.delete_group(conn, name, ctx.owned))

    return [
        admin_route("GET", "/admin/groups", "List price groups", list_groups, None, GroupView, True),
        admin_route("POST", "/admin/groups", "Create a price group", create_group, GroupCreate, GroupView, status=201,
                    errors=_CONFLICT),
        admin_route("GET", "/admin/groups/{name}", "One price group", get_group, None, GroupView),
        admin_route("PATCH", "/admin/groups/{name}", "Change a group's multiplier or description", update_group,
                    GroupPatch, GroupView, errors=_CONFLICT),
        admin_route("DELETE", "/admin/groups/{name}", "Delete a group no key uses", delete_group, None, GroupView,
                    errors=_CONFLICT),
    ]  # fmt: skip


def price_routes(ctx: AdminContext) -> list[Route]:
    """The price routes; ``?channel=`` picks a per-channel override."""

    async def list_prices(req: AdminRequest) -> Reply:
        model = req.text("model")
        return 200, listing(await ctx.read(lambda conn: prices_repo.list_prices(conn, ctx.owned, model=model)))

    async def create_price(req: AdminRequest) -> Reply:
        body = await req.body(PriceCreate)
        return 201, await ctx.write("prices", lambda conn: prices_repo.create_price(conn, body, ctx.owned))

    async def get_price(req: AdminRequest) -> Reply:
        model, channel = req.params["model"], req.text("channel") or ""
        return 200, await ctx.read(lambda conn: prices_repo.get_price(conn, model, channel, ctx.owned))

    async def update_price(req: AdminRequest) -> Reply:
        model, channel = req.params["model"], req.text("channel") or ""
        patch = await req.body(PricePatch)
        return 200, await ctx.write(
            "prices", lambda conn: prices_repo.update_price(conn, model, channel, patch, ctx.owned)
        )

    async def delete_price(req: AdminRequest) -> Reply:
        model, channel = req.params["model"], req.text("channel") or ""
        return 200, await ctx.write("prices", lambda conn: prices_repo.delete_price(conn, model, channel, ctx.owned))

    channel = (QueryParam("channel", "the channel of a per-channel override (absent: the model's own price)"),)
    return [
        admin_route("GET", "/admin/prices", "List prices", list_prices, None, PriceView, True,
                    query=(QueryParam("model", "only this model's prices"),)),
        admin_route("POST", "/admin/prices", "Add a price (USD per 1M tokens; per image / second / call)",
                    create_price, PriceCreate, PriceView, status=201, errors=_CONFLICT),
        admin_route("GET", "/admin/prices/{model:path}", "One model's price", get_price, None, PriceView,
                    query=channel),
        admin_route("PATCH", "/admin/prices/{model:path}", "Change a price", update_price, PricePatch, PriceView,
                    query=channel, errors=_CONFLICT),
        admin_route("DELETE", "/admin/prices/{model:path}", "Delete a price", delete_price, None, PriceView,
                    query=channel, errors=_CONFLICT),
    ]  # fmt: skip


def channel_routes(ctx: AdminContext) -> list[Route]:
    """Channel CRUD (the health listing and probes are ``api/admin.py``'s).  The config's channels are read
    per request: demo mode's mock channels leave it when demo mode ends (``end_demo``), and their names with them."""

    def config_channels() -> list[ChannelConfig]:
        return ctx.gateway.config.channels

    async def create_channel(req: AdminRequest) -> Reply:
        body = await req.body(ChannelConfig)
        return 201, await ctx.write(
            "channels", lambda conn: channels_repo.create_channel(conn, body, config_channels())
        )

    async def get_channel(req: AdminRequest) -> Reply:
        name = req.params["name"]
        return 200, await ctx.read(lambda conn: channels_repo.get_channel(conn, name, config_channels()))

    async def update_channel(req: AdminRequest) -> Reply:
        name = req.params["name"]
        patch = await req.body(ChannelPatch)
        return 200, await ctx.write(
            "channels", lambda conn: channels_repo.update_channel(conn, name, patch, config_channels())
        )

    async def delete_channel(req: AdminRequest) -> Reply:
        name = req.params["name"]
        return 200, await ctx.write(
            "channels", lambda conn: channels_repo.delete_channel(conn, name, config_channels())
        )

    async def list_settings(req: AdminRequest) -> Reply:
        return 200, listing(await ctx.read(lambda conn: channels_repo.list_channels(conn, config_channels())))

    return [
        admin_route("GET", "/admin/channel-settings", "Every channel's settings, upstream keys masked "
                    "(config file and API)", list_settings, None, ChannelView, True),
        admin_route("POST", "/admin/channels", "Create a channel (the config file's channel keys, as JSON)",
                    create_channel, ChannelConfig, ChannelView, status=201, errors=_CONFLICT),
        admin_route("GET", "/admin/channels/{name}", "One channel's settings, upstream keys masked", get_channel,
                    None, ChannelView),
        admin_route("PATCH", "/admin/channels/{name}", "Change an API channel (status disabled takes it out of "
                    "routing)", update_channel, ChannelPatch, ChannelView, errors=_CONFLICT),
        admin_route("DELETE", "/admin/channels/{name}", "Delete an API channel", delete_channel, None, ChannelView,
                    errors=_CONFLICT),
    ]  # fmt: skip


def catalog_routes(ctx: AdminContext) -> list[Route]:
    """Groups, prices and channels."""
    return [*group_routes(ctx), *price_routes(ctx), *price_table_routes(ctx), *channel_routes(ctx)]
