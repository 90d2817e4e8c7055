"""Changes made through the admin API or the CLI reach every worker of every replica without a restart.

Every admin write bumps ``settings.config_version`` in its own transaction.  Each worker polls that
counter every ``reload_interval`` seconds (and at once when ``poke()`` is called, e.g. by a change
notification, or after this worker's own admin write) and, when it moved, reloads:

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
from typing import TYPE_CHECKING, Any

from omnirouter.config.schema import ChannelConfig
from omnirouter.routing import Channel, ModelCatalog
from omnirouter.storage.channels_repo import load_channel_configs
from omnirouter.storage.settings_repo import read_config_version
from omnirouter.storage.users_repo import disabled_user_ids

if TYPE_CHECKING:
    from omnirouter.api.gateway import Gateway

log = logging.getLogger("omnirouter.reload")

__all__ = ["ConfigReloader", "notify_change"]


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
        log.warning("change notice failed (other workers pick the change up by polling)", exc_info=True)


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
            log.exception("initial reload failed; serving the config file's channels and keys")
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
                log.warning("reload failed; retrying in %.1f s", self.interval, exc_info=True)

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
        keys = await gateway.keys.load_active()
        if disabled:
            keys = {digest: key for digest, key in keys.items() if key.user_id not in disabled}
        gateway.auth.replace(keys)
        gateway.catalog = self._catalog(api_channels)
        gateway.shared.breakers.attach(gateway.catalog.channels)  # new channels' breakers are shared too
        try:
            await gateway.billing.reload()
        except Exception:
            log.warning("billing reload failed", exc_info=True)

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
                log.warning("API channel %r is shadowed by the config file's channel of that name", config.name)
                continue
            previous = self._channels.get(config.name)
            channel = previous[1] if previous is not None and previous[0] == config else None
            if channel is None:
                try:
                    channel = Channel(config, gateway.config.breaker, gateway.config)
                except Exception:
                    log.warning("API channel %r cannot be built; skipped", config.name, exc_info=True)
                    continue
            kept[config.name] = (config, channel)
            channels.append(channel)
        self._channels = kept
        return ModelCatalog(channels)
