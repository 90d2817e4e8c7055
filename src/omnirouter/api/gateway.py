"""The gateway's per-worker state: config, routing catalog, keys, upstream client, usage recorder."""

from __future__ import annotations

import logging

from omnirouter.api.auth import Authenticator
from omnirouter.api.reloader import ConfigReloader
from omnirouter.billing import Billing, recover_reservations, sync_config_prices
from omnirouter.config import GatewayConfig
from omnirouter.limits import RateLimiter
from omnirouter.routing import Channel, ModelCatalog
from omnirouter.shared.state import SharedState
from omnirouter.storage import Database, KeyStore, ResponseStateStore, migrate, normalize_database_url
from omnirouter.transport import ImageFetcher, UpstreamClient
from omnirouter.usage import DEAD_LETTER_FILE, UsageJournal, UsageRecorder, journal_dir, replay_journals

log = logging.getLogger("omnirouter")


async def prepare_database(config: GatewayConfig) -> None:
    """Once per deployment start (before workers): run migrations, create configured keys and apply their settings."""
    url = normalize_database_url(config.database_url)
    await migrate(url)
    db = Database(url)
    try:
        await KeyStore(db).ensure_keys(config.keys)
        await sync_config_prices(db, config)  # billing: config prices and groups into the database
        await replay_journals(db, journal_dir(config))  # usage: what stopped processes had not written yet
        await recover_reservations(db)  # billing: reservations a stopped process never settled
    finally:
        await db.close()


class Gateway:
    """Everything one worker needs to serve requests; ``start``/``stop`` bracket its life."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
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
        journal = UsageJournal(self.journal_dir, self.db.url, config.usage_journal_fsync) if self.journal_dir else None
        self.recorder = UsageRecorder(
            self.db,
            flush_interval=config.usage_flush_interval,
            batch_size=config.usage_batch_size,
            journal=journal,
            dead_letter_file=self.journal_dir / DEAD_LETTER_FILE if self.journal_dir else None,
        )
        self.reloader = ConfigReloader(self)  # admin changes (any replica, the CLI) without a restart

    async def start(self) -> None:
        await self.client.start()
        self.auth.replace(await self.keys.load_active())
        await self.billing.start()
        await replay_journals(self.db, self.journal_dir)  # a worker that died before this one started
        await self.recorder.start()
        await self.shared.start(self.catalog.channels)
        await self.reloader.start()
        log.debug("worker ready: %d channels", len(self.catalog.channels))

    async def stop(self) -> None:
        await self.reloader.stop()
        await self.limiter.close()
        await self.shared.close()
        await self.recorder.close()
        await self.billing.close()
        await self.client.close()
        await self.db.close()
