"""Webhook bodies in the dialect that created the task, through a running gateway with ``public_url``: each
event's ``data`` is the task as that dialect's own fetch shows it (parsed with the official client types
where one exists: ``openai.types.Video``, google-genai's ``GenerateVideosOperation``), every delivery is
verified with ``standardwebhooks``, and the output URLs of a succeeded event are absolute signed URLs that
download the mock's MP4 without a key."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
import openai.types
from google.genai import types as genai_types
from standardwebhooks import Webhook

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import running_gateway
from tests.helpers.processes import free_port
from tests.helpers.task_gateway import KLING_MODEL, OTHER_KEY, VEO_MODEL, call, task_config, until
from tests.helpers.video_gateway import made, mock_task
from tests.helpers.webhook_receiver import webhook_receiver

VEO_PATH = f"/v1beta/models/{VEO_MODEL}:predictLongRunning"


def creates(tag: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Per dialect: the create's path and body, its prompt ``hook <dialect> <tag>`` (unique in the mock)."""
    return {
        "openai": (
            "/v1/videos",
            {"model": KLING_MODEL, "prompt": f"hook openai {tag}", "seconds": "5", "size": "1280x720"},
        ),
        "new-api": ("/v1/video/generations", {"model": KLING_MODEL, "prompt": f"hook new-api {tag}", "duration": 5}),
        "kling": (
            "/kling/v1/videos/text2video",
            {"model_name": KLING_MODEL, "prompt": f"hook kling {tag}", "duration": "5"},
        ),
        "gemini": (VEO_PATH, {"instances": [{"prompt": f"hook gemini {tag}"}], "parameters": {"durationSeconds": 8}}),
    }


# Per dialect: the status its own object shows for each event type.
STATUS: dict[str, dict[str, str]] = {
    "openai": {"task.queued": "queued", "task.running": "in_progress", "task.succeeded": "completed"},
    "new-api": {"task.queued": "QUEUED", "task.running": "IN_PROGRESS", "task.succeeded": "SUCCESS"},
    "kling": {"task.queued": "submitted", "task.running": "processing", "task.succeeded": "succeed"},
}


def task_id_of(dialect: str, created: dict[str, Any]) -> str:
    """Our task id in a create's answer."""
    if dialect == "kling":
        return str(created["data"]["task_id"])
    if dialect == "gemini":
        return str(created["name"]).rsplit("/", 1)[-1]
    return str(created["id"])


def fetch_path(dialect: str, task_id: str) -> str:
    return {
        "openai": f"/v1/videos/{task_id}",
        "new-api": f"/v1/video/generations/{task_id}",
        "kling": f"/kling/v1/videos/text2video/{task_id}",
        "gemini": f"/v1beta/models/{VEO_MODEL}/operations/{task_id}",
    }[dialect]


def without_queries(value: Any) -> Any:
    """``value`` with every URL's query (a signature and expiry, fresh in every answer) left out."""
    if isinstance(value, dict):
        return {key: without_queries(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_queries(item) for item in value]
    if isinstance(value, str) and "://" in value and "?" in value:
        return value.split("?", 1)[0]
    return value


async def test_each_dialects_webhooks_carry_its_own_task_object_and_absolute_signed_urls(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    port = free_port()
    tag = secrets.token_hex(4)
    planned = creates(tag)
    public = f"http://127.0.0.1:{port}"
    async with webhook_receiver() as receiver:
        raw = task_config(mock.url, tmp_path)
        raw["keys"][1]["callback_url"] = receiver.url  # the key ``other``: every dialect's tasks get webhooks
        raw |= {"image_fetch": {"allow_hosts": ["127.0.0.1"]}, "public_url": public, "database_url": database_url}
        config = msgspec.convert(raw, GatewayConfig)
        async with running_gateway(config, port=port) as running, aiohttp.ClientSession() as s:
            running.app.gateway.task_poller.interval = 0.02
            running.app.gateway.webhooks.interval = 0.02
            ids: dict[str, str] = {}
            for dialect, (path, body) in planned.items():
                status, created = await call(s, "POST", f"{running.url}{path}", OTHER_KEY, body=body)
                assert status == 200, (dialect, created)
                ids[dialect] = task_id_of(dialect, created)

            async def all_succeeded() -> bool:
                done = [d for d in receiver.accepted() if d.event["type"] == "task.succeeded"]
                return len(done) == len(planned)

            await until(all_succeeded, within=30)
            status, me = await call(s, "GET", f"{running.url}/v1/key", OTHER_KEY)
            fetched: dict[str, Any] = {}
            for dialect, task_id in ids.items():
                status, answer = await call(s, "GET", f"{running.url}{fetch_path(dialect, task_id)}", OTHER_KEY)
                assert status == 200, (dialect, answer)
                fetched[dialect] = answer if dialect in ("openai", "gemini") else answer["data"]

            verifier = Webhook(me["webhook_secret"])
            events: dict[str, list[dict[str, Any]]] = {}
            for delivery in receiver.accepted():
                event = verifier.verify(delivery.body, delivery.headers)
                assert set(event) == {"type", "id", "created_at", "dialect", "data"}
                assert event["id"] == delivery.id
                events.setdefault(event["dialect"], []).append(event)
            assert sorted(events) == sorted(planned)
            for dialect, sent in events.items():
                types = [e["type"] for e in sent]  # ``running`` may be skipped: the mock can finish between polls
                assert types in (["task.queued", "task.running", "task.succeeded"], ["task.queued", "task.succeeded"])
                # The succeeded event's data is what the dialect's own GET answers now (URLs signed afresh).
                assert without_queries(sent[-1]["data"]) == without_queries(fetched[dialect]), dialect

            videos = [openai.types.Video.model_validate(e["data"]) for e in events["openai"]]
            assert [v.status for v in videos] == [STATUS["openai"][e["type"]] for e in events["openai"]]
            assert {v.id for v in videos} == {ids["openai"]} and videos[-1].seconds == "5"

            new_api = [e["data"] for e in events["new-api"]]
            assert [d["status"] for d in new_api] == [STATUS["new-api"][e["type"]] for e in events["new-api"]]
            assert {d["task_id"] for d in new_api} == {ids["new-api"]}

            kling = [e["data"] for e in events["kling"]]
            assert [d["task_status"] for d in kling] == [STATUS["kling"][e["type"]] for e in events["kling"]]
            assert {d["task_id"] for d in kling} == {ids["kling"]}

            operations = [genai_types.GenerateVideosOperation.from_api_response(e["data"]) for e in events["gemini"]]
            assert [op.done for op in operations] == [e["type"] == "task.succeeded" for e in events["gemini"]]
            finished = operations[-1]
            assert finished.error is None and finished.response is not None
            assert finished.response.generated_videos and finished.response.generated_videos[0].video is not None
            veo_uri = finished.response.generated_videos[0].video.uri
            assert veo_uri is not None and veo_uri.startswith(f"{public}/v1beta/files/")

            # Signed, absolute, and downloadable without the key: the mock's own MP4 bytes.
            links = {
                "new-api": new_api[-1]["result_url"],
                "kling": kling[-1]["task_result"]["videos"][0]["url"],
            }
            for dialect, url in links.items():
                parts = urlsplit(url)
                assert f"{parts.scheme}://{parts.netloc}" == public and "signature=" in parts.query, url
                async with s.get(url) as response:  # no key
                    assert response.status == 200, (dialect, await response.text())
                    assert await response.read() == made(mock_task(mock, f"hook {dialect} {tag}"))
                tampered = url.replace("variant=video", "variant=thumbnail")
                async with s.get(tampered) as response:
                    assert response.status in (401, 403, 404), tampered
            # Veo's file URI names the gateway too, and is fetched with the key as google-genai does.
            headers = {"x-goog-api-key": OTHER_KEY}
            async with s.get(veo_uri, headers=headers) as response:
                assert response.status == 200
                assert await response.read() == made(mock_task(mock, f"hook gemini {tag}"))

        raw_bodies = b"".join(d.body for d in receiver.received).decode()
        assert mock.url not in raw_bodies and "sk-mock" not in raw_bodies
