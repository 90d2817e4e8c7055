"""Suno tasks' webhooks through a running gateway (``public_url`` set) against the mock Suno-API, on SQLite
and PostgreSQL: a music task named its webhook in ``notify_hook`` (GoAPI's field), a lyrics task in
``callback_url``; every delivery is verified with ``standardwebhooks``, its ``data`` is the task as
``GET /suno/fetch/{id}`` shows it (new-api's ``TaskDto``: the clips as absolute signed URLs that download the
mock's MP3 without a key, or the lyrics' text), and neither field reaches Suno.  An unusable webhook URL is a
400 in Suno's envelope naming the field it came in, with nothing sent or charged."""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
import mutagen.mp3
import sqlalchemy as sa
from standardwebhooks import Webhook

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from omnirouter.storage import tasks_table
from tests.helpers.billing import assert_books_balance, key_row, query
from tests.helpers.gateway_harness import running_gateway
from tests.helpers.processes import free_port
from tests.helpers.task_gateway import call, task_config, until
from tests.helpers.webhook_receiver import webhook_receiver

# The TaskDto status each event type shows.
STATUS = {"task.queued": "SUBMITTED", "task.running": "IN_PROGRESS", "task.succeeded": "SUCCESS"}


def suno_config(mock: MockUpstream, tmp_path: Path, database_url: str, **extra: Any) -> GatewayConfig:
    """``task_config`` with a Suno channel on the mock and per-call prices for its two models."""
    raw: dict[str, Any] = task_config(mock.url, tmp_path)
    raw["channels"].append({"name": "suno-main", "provider": "suno", "base_url": mock.url,
                            "api_keys": ["sk-suno-upstream"], "models": ["suno_music", "suno_lyrics"]})  # fmt: skip
    raw["prices"] |= {"suno_music": {"per_call": 0.03}, "suno_lyrics": {"per_call": 0.03}}
    raw |= {"database_url": database_url, **extra}
    return msgspec.convert(raw, GatewayConfig)


def without_queries(value: Any) -> Any:
    """``value`` with every URL's query (a signature and expiry, fresh in every answer) left out."""
    if isinstance(value, dict):
        return {key: without_queries(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_queries(item) for item in value]
    if isinstance(value, str) and "://" in value and "?" in value:
        return value.split("?", 1)[0]
    return value


async def test_music_and_lyrics_webhooks_carry_the_suno_task_dto(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    tag = secrets.token_hex(4)
    async with webhook_receiver() as receiver:
        config = suno_config(mock, tmp_path, database_url, public_url=public,
                             image_fetch={"allow_hosts": ["127.0.0.1"]})  # fmt: skip
        async with running_gateway(config, port=port) as running, aiohttp.ClientSession() as s:
            running.app.gateway.task_poller.interval = 0.02
            running.app.gateway.webhooks.interval = 0.02
            music = {"prompt": f"[Verse] rain {tag}", "mv": "chirp-v3-5", "title": "Rain", "notify_hook": receiver.url}
            status, made = await call(s, "POST", f"{running.url}/suno/submit/music", body=music)
            assert status == 200 and made["code"] == "success", made
            lyrics = {"prompt": f"a rainy day {tag}", "callback_url": receiver.url}
            status, wrote = await call(s, "POST", f"{running.url}/suno/submit/lyrics", body=lyrics)
            assert status == 200 and wrote["code"] == "success", wrote
            ids = {"music": made["data"], "lyrics": wrote["data"]}

            async def both_succeeded() -> bool:
                return len([d for d in receiver.accepted() if d.event["type"] == "task.succeeded"]) == 2

            await until(both_succeeded, within=30)
            fetched: dict[str, Any] = {}
            for kind, task_id in ids.items():
                status, answer = await call(s, "GET", f"{running.url}/suno/fetch/{task_id}")
                assert status == 200, answer
                fetched[kind] = answer["data"]
            status, me = await call(s, "GET", f"{running.url}/v1/key")

            verifier = Webhook(me["webhook_secret"])
            events: dict[str, list[dict[str, Any]]] = {}
            for delivery in receiver.accepted():
                event = verifier.verify(delivery.body, delivery.headers)
                assert set(event) == {"type", "id", "created_at", "dialect", "data"} and event["dialect"] == "suno"
                assert event["id"] == delivery.id
                events.setdefault(event["data"]["task_id"], []).append(event)
            assert sorted(events) == sorted(ids.values())
            for kind, task_id in ids.items():
                sent = events[task_id]
                types = [e["type"] for e in sent]  # ``running`` may be skipped: the mock can finish between polls
                assert types in (["task.queued", "task.running", "task.succeeded"], ["task.queued", "task.succeeded"])
                assert [e["data"]["status"] for e in sent] == [STATUS[t] for t in types]
                assert all(e["data"]["data"] is None for e in sent[:-1])
                # The succeeded event's data is what the fetch answers now (URLs signed afresh).
                assert without_queries(sent[-1]["data"]) == without_queries(fetched[kind]), kind

            clips = events[ids["music"]][-1]["data"]["data"]
            assert events[ids["music"]][-1]["data"]["action"] == "MUSIC" and len(clips) == 2
            assert [clip["id"] for clip in clips] == [f"{ids['music']}-0", f"{ids['music']}-1"]
            for clip in clips:
                parts = urlsplit(clip["audio_url"])
                assert f"{parts.scheme}://{parts.netloc}" == public and "signature=" in parts.query, clip
                async with s.get(clip["audio_url"]) as response:  # no key
                    assert response.status == 200
                    assert mutagen.mp3.MP3(io.BytesIO(await response.read())).info.length > 1.0
                assert clip["image_url"].startswith(f"{public}/") and "signature=" in clip["image_url"]
            text = events[ids["lyrics"]][-1]["data"]
            assert text["action"] == "LYRICS"
            assert text["data"]["id"] == f"{ids['lyrics']}-0" and text["data"]["status"] == "complete"
            assert f"a rainy day {tag}" in text["data"]["text"] and text["data"]["title"]

        submits = [r.body for r in mock.requests if r.method == "POST" and r.path.startswith("/suno/submit/")]
        assert len(submits) == 2
        assert all("notify_hook" not in body and "callback_url" not in body for body in submits)  # never to Suno
        raw_bodies = b"".join(d.body for d in receiver.received).decode()
        assert mock.url not in raw_bodies and "sk-suno-upstream" not in raw_bodies


async def test_an_unusable_webhook_url_is_a_400_naming_its_field_and_nothing_is_charged(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    config = suno_config(mock, tmp_path, database_url, image_fetch={})  # the default policy: private refused
    async with running_gateway(config) as running, aiohttp.ClientSession() as s:
        cases = [
            ("music", {"prompt": "x", "notify_hook": "http://127.0.0.1:9/hook"}, "notify_hook"),
            ("music", {"prompt": "x", "notify_hook": "ftp://example.com/hook"}, "notify_hook"),
            ("lyrics", {"prompt": "x", "notify_hook": "http://10.1.2.3/hook"}, "notify_hook"),
            ("music", {"prompt": "x", "callback_url": "http://192.168.1.9/x"}, "callback_url"),
            ("lyrics", {"prompt": "x", "callback_url": "hooks"}, "callback_url"),
            ("music", {"prompt": "x", "notify_hook": 7}, "notify_hook"),
            ("music", {"prompt": "x", "notify_hook": "https://a.example/h", "callback_url": "https://b.example/h"},
             "notify_hook"),
        ]  # fmt: skip
        for action, body, field in cases:
            status, answer = await call(s, "POST", f"{running.url}/suno/submit/{action}", body=body)
            assert status == 400, (body, answer)
            assert answer["code"] == "invalid_request" and answer["data"] is None, answer
            assert f"'{field}'" in answer["message"], answer
    assert await query(database_url, sa.select(tasks_table.c.id)) == []  # no task was made
    assert not [r for r in mock.requests if r.path.startswith("/suno/submit/")]
    assert (await key_row(database_url, "tester")).used_nano == 0
    await assert_books_balance(database_url, "tester")
