"""A task engine on a real database in front of the mock upstream's video vendor, with a hand-driven clock.

``task_bench`` yields a ``Bench``: one engine and poller per replica name on one database (each with its own
``Database``, as separate processes would have), a key with a quota, the price of ``vid-1`` (USD 0.10 per
second + 0.05 per task) and helpers to drive polls and read the money back.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from omnirouter.billing.prices import PriceBook
from omnirouter.config.schema import ChannelConfig, ImageFetchConfig, TasksConfig
from omnirouter.ir import Budget
from omnirouter.ir.task import TaskKind, TaskRequest
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.tasks.base import TaskVendor
from omnirouter.protocols.tasks.mock_video import MOCK_VIDEO
from omnirouter.routing import Channel, ModelCatalog
from omnirouter.storage import Database, KeyRecord, api_keys_table, migrate, normalize_database_url
from omnirouter.storage.accounts_models import prices_table, reservations_table
from omnirouter.storage.blobs_local import LocalBlobStore
from omnirouter.storage.models import usage_records_table
from omnirouter.storage.tasks_repo import tasks_table
from omnirouter.tasks import TaskEngine, TaskPoller, TaskRecord, VendorFor
from omnirouter.transport import UpstreamClient

MODEL = "vid-1"
PER_SECOND_NANO = 100_000_000  # USD 0.10
PER_CALL_NANO = 50_000_000  # USD 0.05
KEY = KeyRecord(id=1, name="k", key_hash="h" * 64, user_id=None, quota_nano=100 * 10**9)
FIRST, MOST, DEADLINE = 1.0, 4.0, 100.0  # the channel's poll schedule and deadline (clock seconds)


class Clock:
    """A clock the test moves (unix seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Replica:
    """One process's engine and poller."""

    db: Database
    engine: TaskEngine
    poller: TaskPoller


@dataclass
class Bench:
    url: str
    mock: MockUpstream
    clock: Clock
    results: LocalBlobStore
    client: UpstreamClient
    tasks_config: TasksConfig = field(default_factory=TasksConfig)
    # Result copies may reach the mock upstream on 127.0.0.1 unless a test says otherwise.
    fetch_policy: ImageFetchConfig = field(default_factory=lambda: ImageFetchConfig(allow_private=True))
    replicas: dict[str, Replica] = field(default_factory=dict)

    @property
    def engine(self) -> TaskEngine:
        return self.replicas["a"].engine

    @property
    def poller(self) -> TaskPoller:
        return self.replicas["a"].poller

    @property
    def db(self) -> Database:
        return self.replicas["a"].db

    async def create(self, prompt: str = "a cat", *, seconds: float | None = 5, **extra: Any) -> TaskRecord:
        """Create (and submit) a task of ``vid-1`` through replica a."""
        return await self.engine.create(KEY, "test", request(prompt, seconds=seconds, **extra), budget())

    async def drive(self, task_id: str, rounds: int = 30, step: float = MOST + 0.5) -> TaskRecord:
        """Advance the clock and poll (replica a) until the task is finished (or ``rounds`` run out)."""
        for _ in range(rounds):
            record = await self.engine.load(task_id)
            assert record is not None
            if record.status.terminal:
                return record
            self.clock.advance(step)
            await self.poller.run_once()
        record = await self.engine.load(task_id)
        assert record is not None
        return record

    async def stored(self, name: str) -> bytes:
        """The bytes of a stored output."""
        return b"".join([chunk async for chunk in (await self.results.open(name)).chunks])

    async def money(self) -> dict[str, Any]:
        """The key's balances, open task reservations, and the ledger's rows and sum."""
        async with self.db.engine.connect() as conn:
            key = (await conn.execute(select(api_keys_table).where(api_keys_table.c.id == KEY.id))).one()
            held = (await conn.execute(select(func.count()).select_from(reservations_table))).scalar_one()
            rows = (await conn.execute(select(usage_records_table))).all()
            costs = (await conn.execute(select(func.coalesce(func.sum(tasks_table.c.cost_nano), 0)))).scalar_one()
        return {
            "used": key.used_nano,
            "reserved": key.reserved_nano,
            "reservations": held,
            "rows": rows,
            "ledger": sum(row.cost_nano for row in rows),
            "task_costs": costs,
        }


def request(prompt: str, *, seconds: float | None = 5, **extra: Any) -> TaskRequest:
    """A video request for ``vid-1``; ``extra`` goes to the vendor as is (the mock's ``timeline``, ...)."""
    return TaskRequest(kind=TaskKind.VIDEO, model=MODEL, prompt=prompt, seconds=seconds, extra=extra)


def budget(seconds: float = 10) -> Budget:
    """The most a task may use: ``seconds`` of video and one call."""
    return Budget(input_bytes=0, seconds=seconds, calls=1)


def mock_vendor(channel: Channel, kind: TaskKind) -> TaskVendor | None:
    """Every test channel is the mock video vendor."""
    return MOCK_VIDEO if kind is TaskKind.VIDEO else None


def channel(mock: MockUpstream, name: str = "mv", *, priority: int = 0, **options: str) -> Channel:
    """A channel of ``vid-1`` at the mock, with the bench's schedule unless ``options`` say otherwise."""
    settings = {"task_poll_first": str(FIRST), "task_poll_max": str(MOST), "task_deadline": str(DEADLINE), **options}
    config = ChannelConfig(
        name=name,
        provider="openai",  # type: ignore[arg-type]
        base_url=mock.url,
        api_keys=["sk-mock"],
        models=[MODEL],
        options=settings,
        total_timeout=5.0,
        priority=priority,
    )
    return Channel(config)


async def add_replica(
    bench: Bench, name: str, catalog: ModelCatalog, *, vendor_for: VendorFor = mock_vendor, **poller: Any
) -> Replica:
    """Another engine and poller on the same database (its own connection pool); ``vendor_for`` picks each
    channel's codec (default: the mock video vendor for every channel)."""
    db = Database(bench.url)
    prices = PriceBook(db)
    await prices.reload()
    engine = TaskEngine(
        db,
        prices,
        lambda: catalog,
        bench.client,
        bench.results,
        bench.tasks_config,
        fetch_policy=bench.fetch_policy,
        vendor_for=vendor_for,
        clock=bench.clock,
        rng=random.Random(7),
        owner=f"replica-{name}",
        submit_grace=2.0,
        http_timeout=5.0,
        idempotency_wait=5.0,
    )
    replica = bench.replicas[name] = Replica(db, engine, TaskPoller(engine, **poller))
    return replica


@asynccontextmanager
async def task_bench(
    url: str,
    mock: MockUpstream,
    tmp_path: Path,
    *,
    quota_nano: int | None = KEY.quota_nano,
    channels: list[Channel] | None = None,
    vendor_for: VendorFor = mock_vendor,
    tasks_config: TasksConfig | None = None,
    fetch_policy: ImageFetchConfig | None = None,
    **poller: Any,
) -> AsyncIterator[Bench]:
    """A migrated database with the key and price, and replica ``a`` (on ``channels``, default the mock
    video vendor's ``channel(mock)``)."""
    url = normalize_database_url(url)
    await migrate(url)
    async with Database(url) as setup, setup.engine.begin() as conn:
        await conn.execute(
            api_keys_table.insert().values(
                id=KEY.id, name=KEY.name, key_hash=KEY.key_hash, key_prefix="p", quota_nano=quota_nano
            )
        )
        await conn.execute(
            prices_table.insert().values(
                model=MODEL, channel="", input=0.0, output=0.0, per_second=0.1, per_call=0.05, source="api"
            )
        )
    client = UpstreamClient()
    await client.start()
    bench = Bench(url, mock, Clock(), LocalBlobStore(tmp_path / "results"), client, tasks_config or TasksConfig())
    if fetch_policy is not None:
        bench.fetch_policy = fetch_policy
    catalog = ModelCatalog(channels if channels is not None else [channel(mock)])
    try:
        await add_replica(bench, "a", catalog, vendor_for=vendor_for, **poller)
        yield bench
    finally:
        for replica in bench.replicas.values():
            await replica.poller.stop()
            await replica.db.close()
        await client.close()
