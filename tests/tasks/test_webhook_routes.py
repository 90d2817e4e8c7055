"""Client webhooks through a running gateway: a create's ``callback_url`` (or the key's default from the
config) gets every state change from the gateway's own sender, signed with the secret ``GET /v1/key``,
the admin API and the CLI show; unusable targets are a 400 naming ``callback_url`` in each dialect's shape,
with nothing sent to the vendor; operators see each event's delivery."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import yaml
from standardwebhooks import Webhook

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import running_gateway
from tests.helpers.task_gateway import ADMIN_KEY, KLING_MODEL, OTHER_KEY, call, task_config, until
from tests.helpers.webhook_receiver import Receiver, webhook_receiver

OMNIROUTER = [sys.executable, "-m", "omnirouter.cli"]


def config(mock: MockUpstream, tmp_path: Path, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    """The task gateway's config; the key ``other`` has the receiver as its default callback URL."""
    raw = task_config(mock.url, tmp_path)
    raw["keys"][1]["callback_url"] = receiver.url
    raw["image_fetch"] = {"allow_hosts": ["127.0.0.1"]}
    return {**raw, **extra}


async def test_a_tasks_changes_reach_its_callback_url_signed_with_the_keys_secret(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with webhook_receiver() as receiver:
        raw = config(mock, tmp_path, receiver, database_url=database_url)
        async with running_gateway(msgspec.convert(raw, GatewayConfig)) as running, aiohttp.ClientSession() as s:
            running.app.gateway.task_poller.interval = 0.02
            running.app.gateway.webhooks.interval = 0.02
            body = {"model": KLING_MODEL, "prompt": "a cat", "duration": 5, "callback_url": receiver.url}
            status, created = await call(s, "POST", f"{running.url}/v1/video/generations", body=body)
            assert status == 200, created
            task_id = created["task_id"]

            async def finished() -> bool:
                return any(d.event["type"] == "task.succeeded" for d in receiver.accepted())

            await until(finished, within=20)
            status, me = await call(s, "GET", f"{running.url}/v1/key")
            assert status == 200 and me["webhook_secret"].startswith("whsec_") and me["callback_url"] is None
            status, admin = await call(s, "GET", f"{running.url}/admin/keys/{me['id']}/webhook-secret", ADMIN_KEY)
            assert status == 200 and admin["webhook_secret"] == me["webhook_secret"]
            for missing in (999, 2**40, "x"):
                status, error = await call(s, "GET", f"{running.url}/admin/keys/{missing}/webhook-secret", ADMIN_KEY)
                assert status == 404 and error["error"]["code"] == "key_not_found"
            status, page = await call(s, "GET", f"{running.url}/admin/webhooks?task_id={task_id}", ADMIN_KEY)
            assert status == 200
            assert [(e["type"], e["state"], e["attempts"]) for e in page["data"]] == [
                ("task.queued", "delivered", 1),
                ("task.running", "delivered", 1),
                ("task.succeeded", "delivered", 1),
            ]
            status, error = await call(s, "GET", f"{running.url}/admin/webhooks?state=late", ADMIN_KEY)
            assert status == 400 and error["error"]["param"] == "state"
            event_id = page["data"][0]["id"]
            status, error = await call(s, "POST", f"{running.url}/admin/webhooks/{event_id}/retry", ADMIN_KEY)
            assert status == 409 and error["error"]["code"] == "webhook_not_dead"
        verifier = Webhook(me["webhook_secret"])
        events = [verifier.verify(d.body, d.headers) for d in receiver.accepted()]
        assert [e["type"] for e in events] == ["task.queued", "task.running", "task.succeeded"]
        # Created through new-api's unified route: its ``TaskDto``; no ``public_url``, so its URL is a gateway path.
        assert {e["dialect"] for e in events} == {"new-api"} and {e["data"]["task_id"] for e in events} == {task_id}
        assert events[-1]["data"]["result_url"] == f"/v1/videos/{task_id}/content?variant=video"
        (config_file := tmp_path / "omnirouter.yaml").write_text(yaml.safe_dump(raw))
        shown = await asyncio.to_thread(
            subprocess.run, [*OMNIROUTER, "keys", "webhook", str(me["id"]), "--config", str(config_file)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert f"webhook secret: {me['webhook_secret']}" in shown.stdout


async def test_the_keys_default_callback_url_is_used_when_the_create_names_none(
    database_url: str, mock: MockUpstream, tmp_path: Path
) -> None:
    async with webhook_receiver() as receiver:
        raw = config(mock, tmp_path, receiver, database_url=database_url)
        async with running_gateway(msgspec.convert(raw, GatewayConfig)) as running, aiohttp.ClientSession() as s:
            running.app.gateway.task_poller.interval = 0.02
            running.app.gateway.webhooks.interval = 0.02
            body = {"model": KLING_MODEL, "prompt": "a dog", "seconds": "5"}  # OpenAI videos: no callback field
            status, created = await call(s, "POST", f"{running.url}/v1/videos", OTHER_KEY, body=body)
            assert status == 200, created

            async def finished() -> bool:
                return any(d.event["type"] == "task.succeeded" for d in receiver.accepted())

            await until(finished, within=20)
            status, me = await call(s, "GET", f"{running.url}/v1/key", OTHER_KEY)
            assert me["callback_url"] == receiver.url
            quiet_body = {"model": KLING_MODEL, "prompt": "quiet", "seconds": "5"}
            status, quiet = await call(s, "POST", f"{running.url}/v1/videos", body=quiet_body)  # tester: no default
            assert status == 200
            status, page = await call(s, "GET", f"{running.url}/admin/webhooks?task_id={quiet['id']}", ADMIN_KEY)
            assert page["data"] == []
        events = [Webhook(me["webhook_secret"]).verify(d.body, d.headers) for d in receiver.accepted()]
        assert {e["data"]["id"] for e in events} == {created["id"]} and {e["dialect"] for e in events} == {"openai"}


async def test_unusable_callback_urls_are_a_400_naming_the_field_and_nothing_is_sent(
    mock: MockUpstream, tmp_path: Path
) -> None:
    async with webhook_receiver() as receiver:
        raw = config(mock, tmp_path, receiver, image_fetch={})  # the default policy: private targets refused
        async with running_gateway(msgspec.convert(raw, GatewayConfig)) as running, aiohttp.ClientSession() as s:
            for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "ftp://example.com/hook", "hooks"):
                body = {"model": KLING_MODEL, "prompt": "a cat", "callback_url": url}
                status, error = await call(s, "POST", f"{running.url}/v1/video/generations", body=body)
                assert status == 400, (url, error)
                assert error["error"]["param"] == "callback_url" and error["error"]["code"] == "invalid_callback_url"
                kling = {"model_name": KLING_MODEL, "prompt": "a cat", "callback_url": url}
                status, error = await call(s, "POST", f"{running.url}/kling/v1/videos/text2video", body=kling)
                assert status == 400 and error["code"] == 1201 and "callback_url" in error["message"], error
            assert not [r for r in mock.requests if r.method == "POST" and "/videos/" in r.path]
            status, tasks = await call(s, "GET", f"{running.url}/admin/tasks", ADMIN_KEY)
            assert tasks["data"] == []
            create = {"name": "api-key", "callback_url": "http://192.168.1.9/x"}
            status, error = await call(s, "POST", f"{running.url}/admin/keys", ADMIN_KEY, body=create)
            assert status == 400 and error["error"]["param"] == "callback_url"
            status, made = await call(s, "POST", f"{running.url}/admin/keys", ADMIN_KEY, body={"name": "api-key"})
            assert status == 201 and made["callback_url"] is None
            patch = {"callback_url": "file:///etc/passwd"}
            status, error = await call(s, "PATCH", f"{running.url}/admin/keys/{made['id']}", ADMIN_KEY, body=patch)
            assert status == 400 and error["error"]["param"] == "callback_url"
