"""The gateway's per-worker state: config, routing catalog, keys, upstream client, usage recorder."""

from __future__ import annotations

import logging

from omnirouter.api.auth import Authenticator
from omnirouter.billing import Billing
from omnirouter.config import GatewayConfig
from omnirouter.limits import RateLimiter, UnlimitedLimiter
from omnirouter.relay.images import ImageFetcher
from omnirouter.routing import Channel, ModelCatalog
from omnirouter.storage import Database, KeyStore, ResponseStateStore, migrate, normalize_database_url
from omnirouter.transport import UpstreamClient
from omnirouter.usage import UsageRecorder

log = logging.getLogger("omnirouter")


async def prepare_database(config: GatewayConfig) -> None:
    """Once per deployment start (before workers): run migrations and create configured keys."""
    url = normalize_database_url(config.database_url)
    await migrate(url)
    db = Database(url)
    try:
        await KeyStore(db).ensure_keys([(k.name, k.key) for k in config.keys])
    finally:
        await db.close()


class Gateway:
    """Everything one worker needs to serve requests; ``start``/``stop`` bracket its life."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.catalog = ModelCatalog(Channel(c, config.breaker) for c in config.channels)
        self.db = Database(normalize_database_url(config.database_url))
        self.keys = KeyStore(self.db)
        self.response_states = ResponseStateStore(self.db)
        self.auth = Authenticator({})
        self.client = UpstreamClient()
        self.images = ImageFetcher(config.image_fetch)
        self.limiter: RateLimiter = UnlimitedLimiter()
        self.billing = Billing()
        self.recorder = UsageRecorder(
            self.db, flush_interval=config.usage_flush_interval, batch_size=config.usage_batch_size
        )

    async def start(self) -> None:
        await self.client.start()
        self.auth.replace(await self.keys.load_active())
        await self.recorder.start()
        log.debug("worker ready: %d channels", len(self.catalog.channels))

    async def stop(self) -> None:
        await self.limiter.close()
        await self.recorder.close()
        await self.client.close()
        await self.db.close()
