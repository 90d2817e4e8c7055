"""Client webhooks on SQLite and PostgreSQL: an outbox event per task state change, written in the change's
own transaction, delivered in order, signed per key (checked with the ``standardwebhooks`` verifier) to a
real local HTTP receiver; retries with backoff keep the event id; two senders never send one event at once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from standardwebhooks import Webhook

from omnirouter.config import ConfigError
from omnirouter.config.loader import parse_config
from omnirouter.config.schema import ImageFetchConfig, WebhooksConfig
from omnirouter.ir import GatewayError, Usage
from omnirouter.ir.task import TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.routing import ModelCatalog
from omnirouter.storage.webhooks_repo import list_webhooks, revive_webhook, task_webhooks_table
from omnirouter.tasks import TaskRecord, TaskSummary
from omnirouter.tasks.webhooks import WebhookSender, check_callback_url, webhook_secret
from tests.helpers.task_bench import KEY, MOST, Bench, add_replica, budget, channel, request, task_bench
from tests.helpers.task_gateway import until
from tests.helpers.webhook_receiver import Delivery, Receiver, webhook_receiver

SECRET = b"s" * 32
LOCAL = ImageFetchConfig(allow_hosts=["127.0.0.1"])


def sender(bench: Bench, replica: str = "a", batch: int = 50, **settings: Any) -> WebhookSender:
    """A sender on ``replica``'s database with the bench's clock, allowed to POST to 127.0.0.1;
    ``settings``: the config's ``webhooks:`` fields."""
    db = bench.replicas[replica].db
    return WebhookSender(db, lambda: SECRET, policy=LOCAL, clock=bench.clock, rng=random.Random(5),
                         owner=f"hooks-{replica}", batch=batch,
                         settings=msgspec.convert(settings, WebhooksConfig))  # fmt: skip


async def flush(hooks: WebhookSender, rounds: int = 20) -> None:
    """Run the sender until nothing is due."""
    for _ in range(rounds):
        if await hooks.run_once() == 0:
            return


def verified(delivery: Delivery, key_id: int = KEY.id) -> dict[str, object]:
    """The event, once the Standard Webhooks verifier accepted its signature (raises otherwise)."""
    event: dict[str, object] = Webhook(webhook_secret(SECRET, key_id)).verify(delivery.body, delivery.headers)
    return event


async def create(bench: Bench, receiver: Receiver, prompt: str = "a cat", **extra: object) -> TaskRecord:
    task = msgspec.structs.replace(request(prompt, **extra), callback_url=receiver.url)
    return await bench.engine.create(KEY, "test", task, budget())


async def test_every_state_change_is_delivered_once_in_order_and_signed(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        hooks = sender(bench)
        try:
            record = await create(bench, receiver)
            done = await bench.drive(record.id)
            assert done.status is TaskStatus.SUCCEEDED
            # A late settle (another replica, a sweep) changes nothing, so it announces nothing.
            assert await bench.engine.end(record, TaskStatus.SUCCEEDED, TaskSummary(), usage=Usage(seconds=9)) is None
            await flush(hooks)
        finally:
            await hooks.stop()
        events = [verified(d) for d in receiver.accepted()]
        assert [e["type"] for e in events] == ["task.queued", "task.running", "task.succeeded"]
        assert [d.id for d in receiver.received] == [e["id"] for e in events]
        assert len({d.id for d in receiver.received}) == 3 and len(receiver.received) == 3
        data = [e["data"] for e in events]
        assert all(isinstance(d, dict) and d["id"] == record.id and d["object"] == "task" for d in data)
        last = events[-1]["data"]
        assert isinstance(last, dict) and last["status"] == "succeeded" and last["seconds"] == 5.0
        assert {o["url"] for o in last["outputs"]} == {
            f"/v1/videos/{record.id}/content?variant=video",
            f"/v1/videos/{record.id}/content?variant=thumbnail",
        }
        raw = b"".join(d.body for d in receiver.received).decode()
        assert done.upstream_id is not None and done.upstream_id not in raw  # nothing of the vendor's
        assert '"mv"' not in raw and "sk-mock" not in raw and mock.url not in raw
        async with bench.db.engine.connect() as conn:
            rows = await list_webhooks(conn, task_id=record.id)
        assert [(r.delivered_at is not None, r.attempts, r.dead_at) for r in rows] == [(True, 1, None)] * 3


async def test_failed_and_cancelled_tasks_are_announced_and_tasks_without_a_url_are_not(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        hooks = sender(bench)
        try:
            failed = await create(bench, receiver, "no", timeline=["running:10", "failed"])
            assert (await bench.drive(failed.id)).status is TaskStatus.FAILED
            cancelled = await create(bench, receiver, "stop")
            await bench.engine.cancel(cancelled.id, key_id=KEY.id)
            silent = await bench.create("quiet")  # no callback_url, and the key has no default
            await bench.drive(silent.id)
            await flush(hooks)
        finally:
            await hooks.stop()
        by_task: dict[str, list[str]] = {}
        for event in (verified(d) for d in receiver.accepted()):
            data = event["data"]
            assert isinstance(data, dict)
            by_task.setdefault(data["id"], []).append(str(event["type"]))
        assert by_task == {
            failed.id: ["task.queued", "task.running", "task.failed"],
            cancelled.id: ["task.queued", "task.cancelled"],
        }
        failure = next(verified(d) for d in receiver.accepted() if d.event["type"] == "task.failed")["data"]
        assert isinstance(failure, dict) and failure["error_code"] == "content_policy"


async def test_a_create_answered_with_its_submits_error_sends_no_event(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        mock.script({"fail": 500}, times=10)
        with pytest.raises(GatewayError):
            await create(bench, receiver, "the vendor is down")  # the client gets the error, not an event
        (task,) = await bench.engine.list(key_id=KEY.id)
        assert task.status is TaskStatus.FAILED and task.callback_url == receiver.url
        async with bench.db.engine.connect() as conn:
            assert await list_webhooks(conn) == []


async def test_the_keys_default_url_is_used_when_the_request_names_none(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        hooks = sender(bench)
        try:
            key = msgspec.structs.replace(KEY, callback_url=receiver.url)
            record = await bench.engine.create(key, "test", request("default"), budget())
            assert record.callback_url == receiver.url
            await bench.drive(record.id)
            await flush(hooks)
        finally:
            await hooks.stop()
        assert [verified(d)["type"] for d in receiver.accepted()][-1] == "task.succeeded"


async def test_a_receiver_that_is_down_gets_the_same_event_again_with_backoff(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        hooks = sender(bench, first_retry=10.0, max_retry=60.0)
        try:
            receiver.script = [500, 503]
            record = await create(bench, receiver, timeline=["running:10"] * 50)
            assert await hooks.run_once() == 1  # 500
            async with bench.db.engine.connect() as conn:
                (row,) = await list_webhooks(conn, task_id=record.id)
            assert row.attempts == 1 and row.delivered_at is None and "HTTP 500" in (row.last_error or "")
            assert 8.0 <= row.next_attempt_at - bench.clock.now <= 10.0  # 10 s, up to 20 % jitter off
            assert await hooks.run_once() == 0  # not due yet
            bench.clock.advance(10.0)
            assert await hooks.run_once() == 1  # 503
            async with bench.db.engine.connect() as conn:
                (row,) = await list_webhooks(conn, task_id=record.id)
            assert row.attempts == 2 and 24.0 <= row.next_attempt_at - bench.clock.now <= 30.0
            bench.clock.advance(30.0)
            assert await hooks.run_once() == 1  # delivered
        finally:
            await hooks.stop()
        assert [d.headers["x-answered"] for d in receiver.received] == ["500", "503", "200"]
        assert len({d.id for d in receiver.received}) == 1  # one event, three attempts
        assert len({d.body for d in receiver.received}) == 1
        for delivery in receiver.received:
            assert verified(delivery)["type"] == "task.queued"


async def test_an_event_that_never_gets_through_dies_and_the_next_one_goes(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        hooks = sender(bench, first_retry=1.0, max_attempts=3)
        try:
            receiver.script = [500, 500, 500]
            record = await create(bench, receiver)
            await bench.drive(record.id)  # queued, running, succeeded: three events wait
            for _ in range(3):  # the first event fails three times; the later ones wait behind it
                assert await hooks.run_once() == 1
                bench.clock.advance(10.0)
            await flush(hooks)
            async with bench.db.engine.connect() as conn:
                dead = await list_webhooks(conn, state="dead")
                rows = await list_webhooks(conn, task_id=record.id)
            assert [(r.event_type, r.attempts) for r in dead] == [("task.queued", 3)]
            assert "HTTP 500" in (dead[0].last_error or "")
            assert [(r.event_type, r.delivered_at is not None) for r in rows] == [
                ("task.queued", False),
                ("task.running", True),
                ("task.succeeded", True),
            ]
            assert [verified(d)["type"] for d in receiver.accepted()] == ["task.running", "task.succeeded"]
            async with bench.db.engine.begin() as conn:  # an operator sends it again (POST /admin/webhooks/…/retry)
                assert await revive_webhook(conn, dead[0].id, bench.clock.now)
                assert not await revive_webhook(conn, rows[1].id, bench.clock.now)  # delivered: not dead
            await flush(hooks)
        finally:
            await hooks.stop()
        assert [verified(d)["type"] for d in receiver.accepted()][-1] == "task.queued"
        assert receiver.received[-1].id == dead[0].id


async def test_the_target_is_checked_again_at_delivery(database_url: str, mock: MockUpstream, tmp_path: Path) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        hooks = sender(bench)
        hooks.policy = ImageFetchConfig()  # 127.0.0.1 is private: no longer allowed
        try:
            record = await create(bench, receiver)
            assert await hooks.run_once() == 1
            async with bench.db.engine.connect() as conn:
                (row,) = await list_webhooks(conn, task_id=record.id)
        finally:
            await hooks.stop()
        assert receiver.received == []
        assert row.delivered_at is None and "private or reserved" in (row.last_error or "")


async def test_a_sender_that_dies_mid_post_leaves_the_event_to_another_with_the_same_id(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        await add_replica(bench, "b", ModelCatalog([channel(mock)]))
        first, second = sender(bench, "a"), sender(bench, "b")
        try:
            await create(bench, receiver)
            receiver.delay = 1.0
            dying = asyncio.create_task(first.run_once())
            await until(lambda: _arrived(receiver))  # the POST is at the receiver: now the replica dies
            dying.cancel()
            with pytest.raises(asyncio.CancelledError):
                await dying
            await first.stop()
            receiver.delay = 0.0
            assert await second.run_once() == 0  # the dead replica's lease still holds the event
            bench.clock.advance(first.lease + 0.1)
            assert await second.run_once() == 1
            async with bench.db.engine.connect() as conn:
                (row,) = await list_webhooks(conn)
        finally:
            await second.stop()
        assert row.delivered_at is not None and row.lease_owner is None and row.attempts == 1
        assert receiver.arrived == [row.id, row.id]  # at least once: the same event id both times
        assert {d.id for d in receiver.accepted()} == {row.id}  # (the first answer went to a closed connection)
        assert verified(receiver.accepted()[-1])["type"] == "task.queued"


async def _arrived(receiver: Receiver) -> bool:
    return bool(receiver.arrived)


async def test_two_senders_never_send_one_event_at_once(database_url: str, mock: MockUpstream, tmp_path: Path) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        await add_replica(bench, "b", ModelCatalog([channel(mock)]))
        senders = [sender(bench, "a", batch=5), sender(bench, "b", batch=5)]
        receiver.delay = 0.02
        try:
            records = [await create(bench, receiver, f"cat {i}") for i in range(12)]
            for record in records:
                await bench.drive(record.id)
            for _ in range(40):
                claimed = await asyncio.gather(*(s.run_once() for s in senders))
                if sum(claimed) == 0:
                    break
        finally:
            for hooks in senders:
                await hooks.stop()
        async with bench.db.engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(task_webhooks_table))).scalar_one()
            open_rows = await list_webhooks(conn, state="pending")
            delivered = await list_webhooks(conn, state="delivered")
        assert total == 36 and open_rows == [] and len(delivered) == 36
        assert all(row.attempts == 1 for row in delivered)
        ids = [d.id for d in receiver.received]
        assert len(ids) == 36 and len(set(ids)) == 36  # each event sent exactly once
        assert receiver.most_in_flight == 1
        order: dict[str, list[str]] = {}
        for delivery in receiver.received:
            event = verified(delivery)
            data = event["data"]
            assert isinstance(data, dict)
            order.setdefault(data["id"], []).append(str(event["type"]))
        assert all(types == ["task.queued", "task.running", "task.succeeded"] for types in order.values())


def plain_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """docs/tasks.md's verifier without the library (its replay window left out: receivers' clocks)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body, hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode()
    signatures = [sig.split(",", 1)[1] for sig in headers["webhook-signature"].split() if sig.startswith("v1,")]
    return any(hmac.compare_digest(expected, sig) for sig in signatures)


async def test_plain_hmac_verifies_what_the_sender_signs(database_url: str, mock: MockUpstream, tmp_path: Path) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        hooks = sender(bench)
        try:
            await create(bench, receiver)
            await flush(hooks)
        finally:
            await hooks.stop()
        (delivery,) = receiver.received
        assert plain_verify(webhook_secret(SECRET, KEY.id), delivery.headers, delivery.body)
        assert not plain_verify(webhook_secret(SECRET, KEY.id + 1), delivery.headers, delivery.body)
        assert not plain_verify(webhook_secret(SECRET, KEY.id), delivery.headers, delivery.body + b" ")


def test_the_per_key_secret_is_derived_and_differs_per_key() -> None:
    one, two = webhook_secret(SECRET, 1), webhook_secret(SECRET, 2)
    assert one.startswith("whsec_") and one != two and one == webhook_secret(SECRET, 1)
    assert webhook_secret(b"t" * 32, 1) != one


@pytest.mark.parametrize("url", ["ftp://example.com/x", "/relative", "http://user:pw@example.com/", "http://10.0.0.1/"])
async def test_unusable_targets_are_refused(url: str) -> None:
    with pytest.raises(GatewayError) as caught:
        await check_callback_url(url, ImageFetchConfig())
    assert caught.value.status == 400 and caught.value.param == "callback_url"


async def test_a_change_whose_event_cannot_be_written_does_not_commit(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        record = await create(bench, receiver, timeline=["running:10", "running:20"])
        plain = await bench.create("no webhook")
        money = await bench.money()
        async with bench.db.engine.begin() as conn:  # the outbox is gone: no event can be written any more
            await conn.execute(text("DROP TABLE task_webhooks"))
        bench.clock.advance(MOST + 0.5)
        await bench.poller.run_once()  # both polled: the webhook task's move to running fails with its event
        after = await bench.engine.load(record.id)
        assert after is not None and after.status is TaskStatus.QUEUED and after.poll_attempts == 0
        with pytest.raises(DBAPIError):
            await bench.engine.cancel(record.id, key_id=KEY.id)  # the end, its money and its event: all or none
        after = await bench.engine.load(record.id)
        assert after is not None and after.status is TaskStatus.QUEUED
        assert (await bench.money())["reserved"] == money["reserved"] and (await bench.money())["rows"] == []
        done = await bench.drive(plain.id)  # a task without a callback URL never touches the outbox
        assert done.status is TaskStatus.SUCCEEDED


def test_a_config_keys_callback_url_must_be_http() -> None:
    config = parse_config("keys:\n  - {name: a, key: sk-a-12345678, callback_url: 'https://hooks.example.com/x'}\n")
    assert config.keys[0].callback_url == "https://hooks.example.com/x"
    with pytest.raises(ConfigError, match=r"keys\[0\]\.callback_url: must start with http:// or https://"):
        parse_config("keys:\n  - {name: a, key: sk-a-12345678, callback_url: 'ftp://hooks.example.com/x'}\n")


async def test_finished_events_are_pruned_after_the_retention(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        hooks = sender(bench, retention_days=2)
        try:
            done = await create(bench, receiver, "old")
            await bench.drive(done.id)
            await flush(hooks)  # three delivered events
            receiver.script = [500]
            waiting = await create(bench, receiver, "still waiting")
            assert await hooks.run_once() == 1  # its first event failed once: pending
            assert await hooks.prune(force=True) == 0  # nothing is old enough yet
            bench.clock.advance(2 * 86400 + 1)
            assert await hooks.prune() == 3  # the delivered ones; the pending one stays
            async with bench.db.engine.connect() as conn:
                left = await list_webhooks(conn)
            assert [(r.task_id, r.event_type, r.delivered_at) for r in left] == [(waiting.id, "task.queued", None)]
            assert await hooks.run_once() == 1  # now delivered, and old enough
            assert await hooks.prune() == 0  # pruned a moment ago: not again within prune_every
            assert await hooks.prune(force=True) == 1
        finally:
            await hooks.stop()


def test_the_webhook_settings_are_checked() -> None:
    config = parse_config("webhooks: {timeout: 5, max_attempts: 3, retention_days: 7}\n")
    assert (config.webhooks.timeout, config.webhooks.max_attempts, config.webhooks.retention_days) == (5, 3, 7)
    with pytest.raises(ConfigError, match=r"webhooks\.max_attempts"):
        parse_config("webhooks: {max_attempts: 0}\n")
