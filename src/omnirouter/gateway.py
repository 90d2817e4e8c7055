"""The composition root: one worker's services (config, routing catalog, keys, upstream client, billing,
limits, usage recorder, cluster state) built from config, without HTTP: serving workers (``api``), the
CLI and, later, the task poller and realtime sessions build a ``Gateway`` and share it.

Also here: ``prepare_database`` (once per deployment start) and ``ConfigReloader``, which keeps a
worker's composed catalog, keys and prices current.  Changes made through the admin API or the CLI
reach every worker of every replica without a restart: every admin write bumps
``settings.config_version`` in its own transaction.  Each worker polls that counter every
``reload_interval`` seconds (and at once when ``poke()`` is called, e.g. by a change notification, or
after this worker's own admin write) and, when it moved, reloads:

* client keys (active keys of users who are not disabled) into the authenticator;
* the channel catalog: the config file's channels plus the active API channels; a channel whose
  settings did not change keeps its ``Channel`` object, so its breaker and key state survive;
* prices and groups, through the billing engine's ``reload()`` hook when it has one.

A failed reload is logged and retried at the next tick; the worker keeps serving what it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from omnirouter.accounts import Authenticator
from omnirouter.billing import Billing, sync_config_prices
from omnirouter.cluster import SharedState
from omnirouter.config import ChannelConfig, GatewayConfig, PriceConfig
from omnirouter.limits import RateLimiter
from omnirouter.notify import Notifications
from omnirouter.observability import GatewayMetrics, Observer, RequestLog, Tracing, remember_secrets
from omnirouter.routing import Channel, ModelCatalog
from omnirouter.storage import Database, KeyStore, ResponseStateStore, migrate, normalize_database_url
from omnirouter.storage.blobs import BlobStore, database_dir, make_blob_store
from omnirouter.storage.channels_repo import has_api_channels, load_channel_configs
from omnirouter.storage.settings_repo import read_config_version
from omnirouter.storage.signing_secret import url_signing_secret
from omnirouter.storage.users_repo import disabled_user_ids
from omnirouter.tasks import TaskEngine, TaskPoller
from omnirouter.tasks.callbacks import CallbackLinks, PollHints
from omnirouter.tasks.image_runs import ImageRuns
from omnirouter.tasks.retention import RetentionSweep
from omnirouter.tasks.services import TaskServices
from omnirouter.tasks.shared_rate import SharedPollRate
from omnirouter.tasks.webhooks import WebhookSender
from omnirouter.transport import ImageFetcher, UpstreamClient
from omnirouter.usage import (
    DEAD_LETTER_FILE,
    UsageJournal,
    UsageRecorder,
    journal_dir,
    recover_reservations,
    replay_journals,
)

log = logging.getLogger("omnirouter")

__all__ = ["ConfigReloader", "DemoSetup", "Gateway", "notify_change", "prepare_database"]


class DemoSetup(msgspec.Struct, frozen=True):
    """What demo mode adds to the database at start: its client key and the demo models' prices."""

    key: str
    prices: dict[str, PriceConfig] = msgspec.field(default_factory=dict)


async def prepare_database(config: GatewayConfig, demo: DemoSetup | None = None) -> bool:
    """Once per deployment start (before workers): run migrations, create configured keys and apply their
    settings.  With ``demo``, decide demo mode (True when it is on): on when the config allows it
    (``demo: true``, the default) and no channel is configured, neither in the file nor in the database;
    then ``demo.key`` becomes the demo key and ``demo.prices`` join the file's.  Off, every earlier demo
    key is revoked."""
    url = normalize_database_url(config.database_url)
    await migrate(url)
    db = Database(url)
    try:
        if demo is not None and (not config.demo or config.channels):
            demo = None
        if demo is not None:
            async with db.engine.connect() as conn:
                demo = None if await has_api_channels(conn) else demo
        if demo is not None:
            config = msgspec.structs.replace(config, prices={**demo.prices, **config.prices})
        await KeyStore(db).ensure_keys(config.keys)
        await KeyStore(db).replace_demo_key(demo.key if demo is not None else None)
        await sync_config_prices(db, config)  # billing: config prices and groups into the database
        await replay_journals(db, journal_dir(config))  # usage: what stopped processes had not written yet
        await recover_reservations(db)  # usage: ledger rows for reservations a stopped process never settled
    finally:
        await db.close()
    return demo is not None


class Gateway:
    """Everything one worker needs to serve requests; ``start``/``stop`` bracket its life."""

    def __init__(self, config: GatewayConfig, *, demo: bool = False) -> None:
        self.config = config
        # Demo mode (cli_demo.py): the config's channels are the built-in mock's; it ends, on every worker,
        # at the first reload that finds an API channel (``end_demo``).
        self.demo = demo
        self.catalog = ModelCatalog(Channel(c, config.breaker, config) for c in config.channels)
        self.db = Database(normalize_database_url(config.database_url))
        self.keys = KeyStore(self.db)
        self.response_states = ResponseStateStore(self.db)
        self.auth = Authenticator({})
        self.client = UpstreamClient()
        self.images = ImageFetcher(config.image_fetch)
        # Rate limits, breaker mirroring and change notices: through Redis with redis_url, else in-process.
        self.shared = SharedState(config, lambda: self.catalog.channels)
        self.limiter: RateLimiter = self.shared.limiter
        self.notifier = self.shared.notifier
        self.billing = Billing.from_config(self.db, config)
        self.journal_dir = journal_dir(config)
        # Metrics and the request log (docs/observability.md), fed from the usage records the recorder
        # hands over each tick (off the hot path); live gauges read the channels and the recorder.
        self.metrics = GatewayMetrics(
            lambda: self.catalog.channels,
            lambda: self.recorder.pending,
            lambda model: bool(self.catalog.channels_for(model)),
            self.db,
        )
        on = config.request_log if config.request_log is not None else config.log_format == "json"
        self.request_log = RequestLog(on)
        self.tracing = Tracing(config.otel) if config.otel is not None else None  # no SDK import without it
        journal = UsageJournal(self.journal_dir, self.db.url, config.usage_journal_fsync) if self.journal_dir else None
        self.recorder = UsageRecorder(
            self.db,
            flush_interval=config.usage_flush_interval,
            batch_size=config.usage_batch_size,
            journal=journal,
            dead_letter_file=self.journal_dir / DEAD_LETTER_FILE if self.journal_dir else None,
            observer=Observer(self.metrics, self.request_log, self.tracing),
        )
        self.reloader = ConfigReloader(self)  # admin changes (any replica, the CLI) without a restart
        # Asynchronous tasks (docs/tasks.md): the engine the task routes call, and this worker's poller.
        # Results go to the result store (``tasks.result_store``; default: a folder beside the database);
        # their gateway URLs are signed with ``url_secret`` (read once at start: every replica's is the same).
        self.results: BlobStore = make_blob_store(
            config.tasks.result_store, config.tasks.s3_endpoint_url, database_dir(self.db.url)
        )
        self.url_secret = b""
        # Vendor callbacks (tasks/callbacks.py): a per-task URL under ``public_url``, a hint to poll now.
        self.callback_links = CallbackLinks(config.public_url, lambda: self.url_secret)
        self.tasks = TaskEngine(
            self.db,
            self.billing.prices,
            lambda: self.catalog,
            self.client,
            self.results,
            config.tasks,
            fetch_policy=config.image_fetch,
            routing=config.routing,
            fallbacks=config.fallbacks,
            callback_url=self.callback_links.url,
            submit_grace=config.tasks.submit_grace,
            http_timeout=config.tasks.http_timeout,
        )
        self.tasks.on_ledger_row = self.recorder.observed  # a task's ledger row reaches the metrics and logs too
        self.image_runs = ImageRuns(self.tasks)  # Omni-Image tasks; synchronous vendors' calls run here
        # Poll rates: one budget per channel shared by every replica through Redis, else this process's own.
        shared_rate = SharedPollRate(self.shared.redis, config.redis_prefix) if self.shared.redis is not None else None
        self.task_poller = TaskPoller(self.tasks, interval=config.tasks.poll_interval, shared_rate=shared_rate)
        self.task_hints = PollHints(self.tasks, self.task_poller.poke)
        days = config.tasks.result_retention_days  # every replica sweeps the result store (safe concurrently)
        self.retention = RetentionSweep(self.results, days) if days is not None else None
        # Client webhooks (docs/tasks.md "Webhooks"): this worker's sender of the outbox's task events,
        # signed with keys derived from ``url_secret``; targets checked under the image-fetch policy.
        self.webhooks = WebhookSender(
            self.db,
            lambda: self.url_secret,
            policy=config.image_fetch,
            settings=config.webhooks,
            public_url=config.public_url,  # absolute signed output URLs in bodies
        )
        # The three run together: here when ``tasks.run_pollers`` (the default), else in ``omnirouter tasks
        # work`` processes (cli_worker.py), which start a Gateway with ``task_services=True`` and no HTTP.
        self.task_services = TaskServices(self.task_poller, self.retention, self.webhooks)
        # Operator alerts (docs/operations.md "Notifications"): checked and sent by every worker, each alert
        # once (a database claim); None when ``notifications:`` names no destination.
        self.notifications = (
            Notifications(self.db, config.notifications, lambda: self.catalog.channels, config.webhooks)
            if config.notifications.enabled
            else None
        )

    async def start(self, *, task_services: bool | None = None) -> None:
        """Start the worker's services; the tasks' background work (``TaskServices``) too when
        ``task_services`` says so (None: as ``tasks.run_pollers`` says)."""
        await self.client.start()
        self.auth.replace(await self.keys.load_active())
        await self.billing.start()
        await replay_journals(self.db, self.journal_dir)  # a worker that died before this one started
        await self.recorder.start()
        await self.metrics.start()
        await self.shared.start(self.catalog.channels)
        await self.reloader.start()
        self.url_secret = await url_signing_secret(self.db)
        if self.config.tasks.run_pollers if task_services is None else task_services:
            await self.task_services.start()
        if self.notifications is not None:
            await self.notifications.start()
        log.debug("worker ready: %d channels", len(self.catalog.channels))

    async def end_demo(self) -> None:
        """Leave demo mode: drop the mock channels and revoke the demo key (it was printed, has no limits)."""
        if not self.demo:
            return
        await self.keys.replace_demo_key(None)
        self.config = msgspec.structs.replace(self.config, channels=[])
        self.demo = False
        log.warning("demo mode is off: a channel was configured; the demo key is revoked")

    async def stop(self) -> None:
        await self.image_runs.close()
        await self.task_hints.close()
        if self.notifications is not None:
            await self.notifications.stop()
        await self.task_services.stop()
        await self.reloader.stop()
        await self.limiter.close()
        await self.shared.close()
        await self.recorder.close()  # hands its last records to the metrics
        await self.metrics.stop()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.close)  # exports what waits (blocking HTTP: off the loop)
        await self.billing.close()
        await self.client.close()
        await self.results.close()
        await self.db.close()


reload_log = logging.getLogger("omnirouter.reload")


async def notify_change(gateway: Gateway, kind: str) -> None:
    """Tell the other workers ``kind`` changed, through ``gateway.notifier.publish_change`` when there is one.

    Polling ``config_version`` is the guarantee; a notice only makes the others look sooner.
    """
    publish: Callable[[str], Any] | None = getattr(getattr(gateway, "notifier", None), "publish_change", None)
    if publish is None:
        return
    try:
        result = publish(kind)
        if inspect.isawaitable(result):
            await result
    except Exception:
        reload_log.warning("change notice failed (other workers pick the change up by polling)", exc_info=True)


class ConfigReloader:
    """Polls ``config_version`` and reloads one worker's keys, channels and prices when it moves."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.interval = max(0.05, gateway.config.reload_interval)
        self.version: int | None = None
        self.reloads = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._channels: dict[str, tuple[ChannelConfig, Channel]] = {}

    async def start(self) -> None:
        """Load the current state once, then poll in the background (and listen for change notices)."""
        subscribe = getattr(getattr(self.gateway, "notifier", None), "subscribe", None)
        if subscribe is not None:
            subscribe(self._on_change)
        try:
            await self.refresh(force=True)
        except Exception:
            reload_log.exception("initial reload failed; serving the config file's channels and keys")
        self._task = asyncio.create_task(self._run(), name="omnirouter-config-reload")

    async def stop(self) -> None:
        """Stop polling."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def poke(self) -> None:
        """Check ``config_version`` now rather than at the next tick."""
        self._wake.set()

    async def _on_change(self, kind: str) -> None:
        self.poke()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:
                reload_log.warning("reload failed; retrying in %.1f s", self.interval, exc_info=True)

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if ``config_version`` moved since the last reload (or when ``force``); True if it did."""
        async with self._lock:
            version = await read_config_version(self.gateway.db)
            if not force and version == self.version:
                return False
            await self._reload()
            self.version = version
            self.reloads += 1
            return True

    async def _reload(self) -> None:
        gateway = self.gateway
        async with gateway.db.engine.connect() as conn:
            disabled = await disabled_user_ids(conn)
            api_channels = await load_channel_configs(conn)
        if gateway.demo and api_channels:
            await gateway.end_demo()  # before the keys are read, so the demo key goes with this reload
        keys = await gateway.keys.load_active()
        if disabled:
            keys = {digest: key for digest, key in keys.items() if key.user_id not in disabled}
        gateway.auth.replace(keys)
        gateway.catalog = self._catalog(api_channels)
        remember_secrets(key for channel in gateway.catalog.channels for key in channel.secrets())  # masked in logs
        gateway.shared.breakers.attach(gateway.catalog.channels)  # new channels' breakers are shared too
        try:
            await gateway.billing.reload()
        except Exception:
            reload_log.warning("billing reload failed", exc_info=True)

    def _catalog(self, api_channels: list[ChannelConfig]) -> ModelCatalog:
        """Config channels (kept as they are) then API channels, reusing unchanged ``Channel`` objects."""
        gateway = self.gateway
        config_names = {c.name for c in gateway.config.channels}
        current = {c.name: c for c in gateway.catalog.channels}
        channels: list[Channel] = []
        for config in gateway.config.channels:
            existing = current.get(config.name)
            channels.append(
                existing if existing is not None else Channel(config, gateway.config.breaker, gateway.config)
            )
        kept: dict[str, tuple[ChannelConfig, Channel]] = {}
        for config in api_channels:
            if config.name in config_names:
                reload_log.warning("API channel %r is shadowed by the config file's channel of that name", config.name)
                continue
            previous = self._channels.get(config.name)
            channel = previous[1] if previous is not None and previous[0] == config else None
            if channel is None:
                try:
                    channel = Channel(config, gateway.config.breaker, gateway.config)
                except Exception:
                    reload_log.warning("API channel %r cannot be built; skipped", config.name, exc_info=True)
                    continue
            kept[config.name] = (config, channel)
            channels.append(channel)
        self._channels = kept
        return ModelCatalog(channels)
