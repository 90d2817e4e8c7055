"""Webhook bodies as stored and as sent, on SQLite and PostgreSQL: a retry announces the same state with
output URLs signed afresh from its own attempt (valid 24 h, under ``public_url``); an event stored in the
common shape (before bodies followed the task's dialect) still goes out byte for byte."""

from __future__ import annotations

import random
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import msgspec
import orjson
from standardwebhooks import Webhook

from omnirouter.config.schema import ImageFetchConfig
from omnirouter.http.signed_urls import verify
from omnirouter.ir.task import TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.tasks.veo_native import file_name
from omnirouter.storage.webhooks_repo import insert_webhook, list_webhooks
from omnirouter.tasks.webhook_body import URL_LIFETIME, OutputLinks, render
from omnirouter.tasks.webhooks import WebhookSender, webhook_secret
from tests.helpers.task_bench import KEY, Bench, budget, request, task_bench
from tests.helpers.webhook_receiver import Delivery, webhook_receiver

SECRET = b"s" * 32
PUBLIC = "https://gw.example.com/"


def sender(bench: Bench, public_url: str | None = None) -> WebhookSender:
    """A sender on the bench's database, its schedule and its timestamps on the bench's clock."""
    return WebhookSender(bench.db, lambda: SECRET, policy=ImageFetchConfig(allow_hosts=["127.0.0.1"]),
                         clock=bench.clock, wall=bench.clock, rng=random.Random(5), public_url=public_url)  # fmt: skip


async def flush(hooks: WebhookSender) -> None:
    for _ in range(20):
        if await hooks.run_once() == 0:
            return


def verified(delivery: Delivery) -> dict[str, object]:
    event: dict[str, object] = Webhook(webhook_secret(SECRET, KEY.id)).verify(delivery.body, delivery.headers)
    return event


async def test_a_retry_announces_the_same_state_with_urls_signed_from_its_own_attempt(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        bench.clock.now = float(int(time.time()))  # webhook-timestamp too: receivers compare it with theirs
        hooks = sender(bench, PUBLIC)
        try:
            task = msgspec.structs.replace(request("signed"), callback_url=receiver.url, dialect="kling")
            record = await bench.engine.create(KEY, "kling", task, budget())
            assert (await bench.drive(record.id)).status is TaskStatus.SUCCEEDED
            async with bench.db.engine.connect() as conn:
                pending = await list_webhooks(conn, task_id=record.id, state="pending")
            receiver.script = [200] * (len(pending) - 1) + [500]  # events go in order: the last one fails once
            first_try = bench.clock.now
            await flush(hooks)
            bench.clock.advance(10.0)
            await flush(hooks)
        finally:
            await hooks.stop()
        tries = [d for d in receiver.received if d.event["type"] == "task.succeeded"]
        assert [d.headers["x-answered"] for d in tries] == ["500", "200"]
        assert tries[0].id == tries[1].id
        first, second = (verified(d) for d in tries)
        assert first["dialect"] == second["dialect"] == "kling"
        urls = []
        for event, now in ((first, first_try), (second, first_try + 10.0)):
            data = event["data"]
            assert isinstance(data, dict) and data["task_id"] == record.id and data["task_status"] == "succeed"
            (video,) = data["task_result"]["videos"]
            url = urlsplit(video["url"])
            assert f"{url.scheme}://{url.netloc}{url.path}" == f"https://gw.example.com/v1/videos/{record.id}/content"
            query = dict(parse_qsl(url.query))
            assert query["variant"] == "video" and int(query["expires"]) == int(now) + URL_LIFETIME
            assert verify(url.path, url.query, now + URL_LIFETIME - 1, SECRET)
            assert not verify(url.path, url.query, now + URL_LIFETIME, SECRET)  # 24 h from this attempt
            assert not verify(url.path, url.query.replace("variant=video", "variant=thumbnail"), now, SECRET)
            urls.append(video.pop("url"))
        assert urls[0] != urls[1] and first["data"] == second["data"]  # the same state, only links renewed


async def test_an_event_stored_in_the_common_shape_is_sent_as_it_was_stored(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with task_bench(database_url, mock, tmp_path) as bench, webhook_receiver() as receiver:
        bench.clock.now = float(int(time.time()))
        hooks = sender(bench, PUBLIC)
        try:
            record = await bench.create("stored before")  # no callback_url: no event of its own
            payload = (
                '{"type":"task.succeeded","id":"evt_old","created_at":1800000000,"data":{"object":"task",'
                f'"id":"{record.id}","status":"succeeded","outputs":[{{"kind":"video",'
                f'"url":"/v1/videos/{record.id}/content?variant=video","mime":"video/mp4"}}]}}}}'
            )
            async with bench.db.engine.begin() as conn:
                await insert_webhook(conn, {
                    "id": "evt_old", "task_id": record.id, "key_id": KEY.id, "url": receiver.url,
                    "event_type": "task.succeeded", "payload": payload, "attempts": 0,
                    "next_attempt_at": bench.clock.now, "created_at": bench.clock.now,
                })  # fmt: skip
            await flush(hooks)
        finally:
            await hooks.stop()
        (delivery,) = receiver.accepted()
        assert delivery.body == payload.encode() and delivery.id == "evt_old"
        assert verified(delivery)["type"] == "task.succeeded"


def test_links_keep_a_public_urls_path_prefix_and_stay_paths_without_one() -> None:
    task_id = "task_0123456789abcdef01234567"
    stored = {
        "type": "task.succeeded", "id": "evt_1", "created_at": 1800000000, "dialect": "gemini",
        "task": {"id": task_id, "kind": "video", "model": "veo-3", "status": "succeeded", "created_at": 1800000000,
                 "outputs": [{"kind": "video", "url": f"/v1/videos/{task_id}/content?variant=video",
                              "mime": "video/mp4"}]},
    }  # fmt: skip
    payload = msgspec.json.encode(stored).decode()
    prefixed = OutputLinks("https://gw.example.com/omni/", lambda: SECRET, lambda: 1800000000.0)
    event = orjson.loads(render(payload, prefixed))
    assert set(event) == {"type", "id", "created_at", "dialect", "data"} and event["data"]["done"] is True
    (sample,) = event["data"]["response"]["generateVideoResponse"]["generatedSamples"]
    uri = f"https://gw.example.com/omni/v1beta/files/{file_name(task_id, 0)}:download?alt=media"
    assert sample["video"] == {"uri": uri, "mimeType": "video/mp4"}
    signed = prefixed(f"/v1/videos/{task_id}/content?variant=video")
    assert signed.startswith(f"https://gw.example.com/omni/v1/videos/{task_id}/content?variant=video&expires=")
    bare = OutputLinks(None, lambda: SECRET)
    assert bare(f"/v1/videos/{task_id}/content?variant=video") == f"/v1/videos/{task_id}/content?variant=video"
    uri = f"/v1beta/files/{file_name(task_id, 0)}:download?alt=media"
    shown = orjson.loads(render(payload, bare))["data"]["response"]["generateVideoResponse"]["generatedSamples"]
    assert shown == [{"video": {"uri": uri, "mimeType": "video/mp4"}}]
