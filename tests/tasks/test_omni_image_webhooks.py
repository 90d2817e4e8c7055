"""Omni-Image tasks' webhooks, through a running gateway with ``public_url`` on SQLite and PostgreSQL: a key
with a ``callback_url`` gets signed (``standardwebhooks``-verified) events whose ``data`` is the task object
its ``GET /v1/images/generations/{id}`` shows, with absolute signed URLs that download the image without a
key."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from PIL import Image
from standardwebhooks import Webhook

from omnirouter.config import GatewayConfig
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.gateway_harness import running_gateway
from tests.helpers.media_gateway import channel
from tests.helpers.postgres import reset_postgres
from tests.helpers.processes import free_port
from tests.helpers.task_gateway import OTHER_KEY, call, task_config, until
from tests.helpers.webhook_receiver import webhook_receiver


def _without_queries(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_queries(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_queries(item) for item in value]
    if isinstance(value, str) and "://" in value and "?" in value:
        return value.split("?", 1)[0]
    return value


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("model", ["gpt-image-1", "wanx"])
async def test_webhooks_carry_the_omni_image_task_object(
    mock_upstream: MockUpstream, tmp_path: Path, gateway_postgres_url: str, backend: str, model: str
) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    url = mock_upstream.url
    async with webhook_receiver() as receiver:
        raw = task_config(url, tmp_path)
        raw["channels"] += [
            channel(url, "oa", "openai", ["gpt-image-1"]),
            channel(url, "ds", "dashscope", ["wanx"], model_map={"wanx": "wanx2.1-t2i-turbo"}),
        ]
        raw["prices"] |= {"gpt-image-1": {"per_image": 0.04}, "wanx": {"per_image": 0.04}}
        raw["keys"][1]["callback_url"] = receiver.url
        raw |= {"image_fetch": {"allow_hosts": ["127.0.0.1"]}, "public_url": public}
        if backend == "postgresql":
            raw["database_url"] = await reset_postgres(gateway_postgres_url)
        async with running_gateway(msgspec.convert(raw, GatewayConfig), port=port) as running:
            gateway = running.app.gateway
            gateway.task_poller.interval = gateway.webhooks.interval = 0.02
            async with aiohttp.ClientSession() as session:
                status, created = await call(session, "POST", f"{running.url}/v1/images/generations?async=true",
                                             OTHER_KEY, body={"model": model, "prompt": "a kite"})  # fmt: skip
                assert status == 200, created

                async def succeeded() -> bool:
                    return any(d.event["type"] == "task.succeeded" for d in receiver.accepted())

                await until(succeeded, within=20)
                _, me = await call(session, "GET", f"{running.url}/v1/key", OTHER_KEY)
                _, fetched = await call(session, "GET", f"{running.url}/v1/images/generations/{created['id']}",
                                        OTHER_KEY)  # fmt: skip
                verifier = Webhook(me["webhook_secret"])
                events = [verifier.verify(d.body, d.headers) for d in receiver.accepted()]
                assert {e["dialect"] for e in events} == {"omni_image"}
                assert {e["data"]["id"] for e in events} == {created["id"]}
                last = events[-1]
                assert last["type"] == "task.succeeded" and last["data"]["status"] == "completed"
                fetched.pop("usage")  # the webhook carries the task object; usage is read from the ledger
                assert _without_queries(last["data"]) == _without_queries(fetched)
                [item] = last["data"]["data"]
                assert item["url"].startswith(public + f"/v1/videos/{created['id']}/content?")
                async with session.get(item["url"]) as response:  # no key: the signature is enough
                    assert response.status == 200
                    assert Image.open(io.BytesIO(await response.read())).format in ("PNG", "JPEG")
