"""``omnirouter keys create|list|revoke|rotate|webhook|top-up``, ``omnirouter redemptions create|list|disable``
and ``omnirouter usage``: the common admin tasks from a
shell.

They work on the database of ``--config`` directly (no running gateway needed) and are safe while
gateways run: each change bumps ``config_version`` in its transaction, so running gateways reload
within their ``reload_interval``.  The config file's own keys are read-only here, as in the admin API.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from omnirouter.billing.credits import TopUp, top_up
from omnirouter.cli_channels import format_table
from omnirouter.config import ConfigError, GatewayConfig, load_config
from omnirouter.storage import Database, migrate, normalize_database_url
from omnirouter.storage.keys_repo import (
    KeyCreate,
    KeyPatch,
    KeyView,
    create_key,
    get_key,
    list_keys,
    revoke_key,
    rotate_key,
    update_key,
)
from omnirouter.storage.ownership import ConfigOwned, config_owned
from omnirouter.storage.redemptions_repo import STATES, BatchCreate, BatchCreated, CodeView, create_batch, disable_code
from omnirouter.storage.redemptions_repo import list_codes as list_redemption_codes
from omnirouter.storage.repo_common import RepoError
from omnirouter.storage.settings_repo import bump_config_version
from omnirouter.storage.signing_secret import url_signing_secret
from omnirouter.storage.users_repo import UserCreate, create_user, user_by_name
from omnirouter.tasks.webhooks import target_refusal, webhook_secret
from omnirouter.usage.report import GROUP_BY, UsageFilters, UsageReport, usage_report

__all__ = ["add_keys_commands", "add_redemptions_commands", "add_usage_command"]

T = TypeVar("T")
Work = Callable[[AsyncConnection, ConfigOwned], Awaitable[T]]


class CliError(Exception):
    """A refusal to print (exit code 1; 2 for usage and config errors)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_keys_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keys create|list|revoke|rotate``."""
    keys = commands.add_parser("keys", help="create, list, revoke or rotate client keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a client key and print it (once)")
    create.add_argument("name", help="a name for the key")
    create.add_argument("--quota", metavar="USD", help="the most it may spend, in US dollars (default: unlimited)")
    create.add_argument("--rpm", type=int, help="requests per minute")
    create.add_argument("--tpm", type=int, help="tokens per minute")
    create.add_argument("--max-concurrent", type=int, help="requests in flight")
    create.add_argument("--models", nargs="+", metavar="PATTERN", help="allowed public models (glob patterns)")
    create.add_argument("--ip", nargs="+", metavar="CIDR", help="allowed client networks")
    create.add_argument("--user", metavar="NAME", help="the owner (a user of that name is created if absent)")
    create.add_argument("--group", help="the price group")
    create.add_argument("--expires", metavar="ISO", help="expiry time, e.g. 2026-12-31 or 2026-12-31T18:00:00Z")
    create.add_argument("--callback-url", metavar="URL", help="where its tasks' webhooks go when a create names none")
    listing = actions.add_parser("list", help="print the keys (never their secrets)")
    listing.add_argument("--status", choices=("active", "disabled", "revoked"))
    revoke = actions.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("id", type=int)
    rotate = actions.add_parser("rotate", help="give a key a new secret and print it (once)")
    rotate.add_argument("id", type=int)
    webhook = actions.add_parser("webhook", help="print a key's webhook secret and default callback URL (or set it)")
    webhook.add_argument("id", type=int)
    target = webhook.add_mutually_exclusive_group()
    target.add_argument("--callback-url", metavar="URL", help="set the key's default callback URL")
    target.add_argument("--clear", action="store_true", help="remove the key's default callback URL")
    topup = actions.add_parser("top-up", help="add US dollars to a key's quota (recorded as a credit)")
    topup.add_argument("id", type=int)
    topup.add_argument("usd", help="the amount in US dollars, e.g. 5 or 12.50")
    topup.add_argument("--note", help="why (kept with the credit)")
    for parser in (create, listing, revoke, rotate, webhook, topup):
        parser.add_argument("--config", help="YAML config file (for database_url; default: embedded defaults)")
    webhook.set_defaults(run=_webhook)
    create.set_defaults(run=_create)
    listing.set_defaults(run=_list)
    revoke.set_defaults(run=_revoke)
    rotate.set_defaults(run=_rotate)
    topup.set_defaults(run=_top_up)


def add_redemptions_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``redemptions create|list|disable``."""
    codes = commands.add_parser("redemptions", help="create, list or disable redemption codes (credit for keys)")
    actions = codes.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a batch of codes and print them (once)")
    create.add_argument("name", help="the batch's name")
    create.add_argument("--count", type=int, required=True, help="how many codes (1-1000)")
    create.add_argument("--usd", required=True, help="what each code is worth, in US dollars")
    create.add_argument("--expires", metavar="ISO", help="when the codes expire (default: never)")
    listing = actions.add_parser("list", help="print the codes (only their prefixes), newest first")
    listing.add_argument("--batch", help="only this batch")
    listing.add_argument("--state", choices=STATES, help="only codes in this state")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    disable = actions.add_parser("disable", help="disable an unused code")
    disable.add_argument("id", type=int)
    for parser in (create, listing, disable):
        parser.add_argument("--config", help="YAML config file (for database_url; default: embedded defaults)")
    create.set_defaults(run=_create_codes)
    listing.set_defaults(run=_list_codes)
    disable.set_defaults(run=_disable_code)


def add_usage_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``usage``."""
    usage = commands.add_parser("usage", help="print usage and cost grouped by key, user, model, channel or day")
    usage.add_argument("--by", choices=GROUP_BY, default="model", help="what to group by (default model)")
    usage.add_argument("--since", metavar="ISO", help="from this time or date (UTC when no zone is given)")
    usage.add_argument("--until", metavar="ISO", help="up to (not including) this time or date")
    usage.add_argument("--config", help="YAML config file (for database_url; default: embedded defaults)")
    usage.set_defaults(run=_usage)


def _config(args: argparse.Namespace) -> GatewayConfig:
    try:
        return load_config(args.config)
    except ConfigError as exc:
        raise CliError(f"config error: {exc}", 2) from None


def _run(args: argparse.Namespace, work: Work[T], *, write: bool) -> T:
    return asyncio.run(_in_database(_config(args), work, write))


def _check_target(url: str | None, config: GatewayConfig) -> None:
    """A callback URL the webhook sender would refuse is refused here too (as by the admin API)."""
    if url is not None:
        reason = asyncio.run(target_refusal(url, config.image_fetch))
        if reason:
            raise CliError(f"--callback-url cannot be used: {reason}", 2)


async def _in_database(config: GatewayConfig, work: Work[T], write: bool) -> T:
    url = normalize_database_url(config.database_url)
    await migrate(url)  # a no-op when up to date; locked against gateways starting at the same time
    owned = config_owned(config)
    async with Database(url) as db:
        if not write:
            async with db.engine.connect() as conn:
                return await work(conn, owned)
        async with db.engine.begin() as conn:
            result = await work(conn, owned)
            await bump_config_version(conn)
            return result


def _main(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except CliError as exc:
            print(f"omnirouter: {exc}", file=sys.stderr)
            return exc.code
        except RepoError as exc:
            print(f"omnirouter: {exc.message}", file=sys.stderr)
            return 1

    return wrapped


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{option}: not an ISO 8601 time or date: {value!r}", 2) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _money(value: float | None) -> str:
    return "unlimited" if value is None else f"${value:,.4f}".rstrip("0").rstrip(".")


def _print_secret(view: KeyView, secret: str, verb: str) -> None:
    print(f"{verb} key {view.id} ({view.name!r}, prefix {view.prefix}):")
    print(secret)
    print("Store it now: it is not shown again.")


@_main
def _create(args: argparse.Namespace) -> int:
    raw: dict[str, Any] = {
        "name": args.name,
        "quota_usd": args.quota,
        "rpm": args.rpm,
        "tpm": args.tpm,
        "max_concurrent": args.max_concurrent,
        "models": args.models,
        "ip_allow": args.ip,
        "group": args.group,
        "expires_at": _time(args.expires, "--expires"),
        "callback_url": args.callback_url,
    }
    try:
        body = msgspec.convert({k: v for k, v in raw.items() if v is not None}, KeyCreate)
    except msgspec.ValidationError as exc:
        raise CliError(f"invalid key settings: {exc}", 2) from None

    async def work(conn: AsyncConnection, owned: ConfigOwned) -> Any:
        nonlocal body
        if args.user is not None:
            user = await user_by_name(conn, args.user) or await create_user(conn, UserCreate(name=args.user))
            body = msgspec.structs.replace(body, user_id=user.id)
        return await create_key(conn, body, owned, actor="cli")

    _check_target(body.callback_url, _config(args))
    created = _run(args, work, write=True)
    _print_secret(created, created.key, "Created")
    return 0


@_main
def _rotate(args: argparse.Namespace) -> int:
    rotated = _run(args, lambda conn, owned: rotate_key(conn, args.id, owned), write=True)
    _print_secret(rotated, rotated.key, "Rotated")
    return 0


@_main
def _webhook(args: argparse.Namespace) -> int:
    config = _config(args)
    change: str | msgspec.UnsetType | None = None if args.clear else args.callback_url or msgspec.UNSET
    _check_target(change if isinstance(change, str) else None, config)

    async def run() -> tuple[KeyView, str]:
        url = normalize_database_url(config.database_url)
        await migrate(url)
        owned = config_owned(config)
        async with Database(url) as db:
            async with db.engine.begin() as conn:
                if change is msgspec.UNSET:
                    view = await get_key(conn, args.id, owned)
                else:
                    view = await update_key(conn, args.id, KeyPatch(callback_url=change), owned, actor="cli")
                    await bump_config_version(conn)
            return view, webhook_secret(await url_signing_secret(db), view.id)

    view, secret = asyncio.run(run())
    print(f"Key {view.id} ({view.name!r}):")
    print(f"webhook secret: {secret}")
    print(f"default callback URL: {view.callback_url or '-'}")
    return 0


@_main
def _top_up(args: argparse.Namespace) -> int:
    body = TopUp(usd=args.usd, note=args.note)
    done = _run(args, lambda conn, owned: top_up(conn, args.id, body, owned, actor="cli"), write=True)
    print(f"Added {_money(done.amount_usd)} to key {done.key_id}: quota {_money(done.quota_usd)}, "
          f"remaining {_money(done.remaining_usd)} (credit {done.credit_id}).")  # fmt: skip
    return 0


@_main
def _revoke(args: argparse.Namespace) -> int:
    revoked = _run(args, lambda conn, owned: revoke_key(conn, args.id, owned), write=True)
    print(f"Revoked key {revoked.id} ({revoked.name!r}); running gateways stop accepting it within seconds.")
    return 0


@_main
def _list(args: argparse.Namespace) -> int:
    keys: list[KeyView] = _run(args, lambda conn, owned: list_keys(conn, owned, status=args.status), write=False)
    if not keys:
        print("No keys.")
        return 0

    def limit(value: int | None) -> str:
        return "-" if value is None else str(value)

    rows = [
        [
            str(k.id),
            k.name,
            k.prefix,
            k.status,
            k.source,
            limit(k.user_id),
            k.group or "-",
            _money(k.quota_usd),
            _money(k.used_usd),
            limit(k.rpm),
            limit(k.tpm),
            limit(k.max_concurrent),
            k.expires_at.strftime("%Y-%m-%d %H:%M") if k.expires_at is not None else "-",
        ]
        for k in keys
    ]
    headers = ["ID", "NAME", "PREFIX", "STATUS", "SOURCE", "USER", "GROUP", "QUOTA", "USED", "RPM", "TPM",
               "CONCURRENT", "EXPIRES"]  # fmt: skip
    print(format_table(headers, rows))
    return 0


@_main
def _usage(args: argparse.Namespace) -> int:
    filters = UsageFilters(start=_time(args.since, "--since"), end=_time(args.until, "--until"))
    report: UsageReport = _run(args, lambda conn, owned: usage_report(conn, args.by, filters), write=False)
    rows = []
    for group in [*report.data, report.totals]:
        name = getattr(group, "group", "TOTAL")
        label = getattr(group, "label", None)
        shown = "-" if name is None else f"{name} ({label})" if label else str(name)
        rows.append(
            [
                shown,
                str(group.requests),
                str(group.errors),
                str(group.input_tokens),
                str(group.output_tokens),
                str(group.cached_tokens),
                str(group.reasoning_tokens),
                str(group.total_tokens),
                str(group.images),
                f"{group.seconds:g}",
                str(group.characters),
                str(group.calls),
                f"{group.cost_usd:.6f}",
            ]
        )
    headers = [args.by.upper(), "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "CACHED", "REASONING", "TOTAL", "IMAGES",
               "SECONDS", "CHARACTERS", "CALLS", "COST USD"]  # fmt: skip
    print(format_table(headers, rows))
    if report.tasks:
        print("\nTasks: " + ", ".join(f"{status} {count}" for status, count in sorted(report.tasks.items())))
    return 0


@_main
def _create_codes(args: argparse.Namespace) -> int:
    raw = {"name": args.name, "count": args.count, "usd": args.usd, "expires_at": _time(args.expires, "--expires")}
    try:
        body = msgspec.convert(raw, BatchCreate)
    except msgspec.ValidationError as exc:
        raise CliError(f"invalid batch: {exc}", 2) from None
    batch: BatchCreated = _run(args, lambda conn, owned: create_batch(conn, body), write=True)
    expiry = f", expiring {batch.expires_at.isoformat()}" if batch.expires_at is not None else ""
    print(f"Created {batch.count} codes worth {_money(batch.usd)} each in batch {batch.name!r}{expiry}:")
    for code in batch.codes:
        print(code.code)
    print("Store them now: they are not shown again.")
    return 0


def _code_rows(codes: list[CodeView]) -> list[list[str]]:
    def when(value: datetime | None) -> str:
        return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")

    return [
        [str(c.id), c.batch, c.prefix, _money(c.usd), c.state, when(c.expires_at), when(c.used_at),
         "-" if c.used_by_key_id is None else str(c.used_by_key_id)]
        for c in codes
    ]  # fmt: skip


@_main
def _list_codes(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        raise CliError("--limit must be from 1 to 1000", 2)

    async def work(conn: AsyncConnection, owned: ConfigOwned) -> list[CodeView]:
        return await list_redemption_codes(conn, batch=args.batch, state=args.state, limit=args.limit)

    codes = _run(args, work, write=False)
    if not codes:
        print("No redemption codes.")
        return 0
    headers = ["ID", "BATCH", "PREFIX", "USD", "STATE", "EXPIRES", "USED", "USED BY KEY"]
    print(format_table(headers, _code_rows(codes)))
    return 0


@_main
def _disable_code(args: argparse.Namespace) -> int:
    code = _run(args, lambda conn, owned: disable_code(conn, args.id), write=True)
    print(f"Redemption code {code.id} ({code.prefix}) is {code.state}.")
    return 0
