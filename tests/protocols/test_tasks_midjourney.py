"""The midjourney-proxy task codec: submits per action, the proxy's submit codes, statuses and buttons,
against recorded-shape answers and then end to end over real HTTP against the mock proxy."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from PIL import Image

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.media import ImageInput
from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.media.base import Answer, UpstreamCall
from omnirouter.protocols.tasks.base import BatchPoll, TaskTarget, TaskVendor
from omnirouter.protocols.tasks.midjourney import MIDJOURNEY
from omnirouter.providers import PROVIDERS, TASK_CAPABILITIES, ProviderKind

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nmock").decode()
TARGET = TaskTarget("midjourney", {}, "mj-secret", "http://proxy", "ext-1", 0.0)


def _ok(obj: Any) -> Answer:
    return Answer(200, {"content-type": "application/json"}, orjson.dumps(obj))


def _req(**fields: Any) -> TaskRequest:
    return TaskRequest(kind=TaskKind.MIDJOURNEY, model="midjourney", **fields)


def _sent(call: UpstreamCall) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(call.body)
    return body


def test_registered_as_the_midjourney_provider_with_its_secret_header() -> None:
    spec = PROVIDERS[ProviderKind.MIDJOURNEY]
    codec = spec.tasks[TASK_CAPABILITIES[TaskKind.MIDJOURNEY]]
    assert codec is MIDJOURNEY and codec.kind is TaskKind.MIDJOURNEY
    assert isinstance(codec, BatchPoll)
    assert spec.auth_headers("s3cret") == {"mj-api-secret": "s3cret"}


def test_submit_bodies_per_action() -> None:
    imagine = MIDJOURNEY.submit(
        _req(prompt="a cat", images=[ImageInput(url=PNG)], extra={"botType": "NIJI_JOURNEY"}), TARGET
    )
    assert imagine.path == "/mj/submit/imagine"
    assert _sent(imagine) == {"prompt": "a cat", "base64Array": [PNG], "botType": "NIJI_JOURNEY"}
    blend = MIDJOURNEY.submit(_req(action="blend", images=[ImageInput(url=PNG)] * 2, aspect_ratio="2:3"), TARGET)
    assert _sent(blend) == {"base64Array": [PNG, PNG], "dimensions": "PORTRAIT"}
    assert _sent(MIDJOURNEY.submit(_req(action="describe", images=[ImageInput(url=PNG)]), TARGET)) == {"base64": PNG}
    change = MIDJOURNEY.submit(_req(action="change", parent_task_id="17", change="UPSCALE", index=2), TARGET)
    assert change.path == "/mj/submit/change" and _sent(change) == {"taskId": "17", "action": "UPSCALE", "index": 2}
    simple = MIDJOURNEY.submit(_req(action="simple-change", parent_task_id="17", change="v3"), TARGET)
    assert _sent(simple) == {"content": "17 V3"}
    action = MIDJOURNEY.submit(_req(action="action", parent_task_id="17", custom_id="MJ::JOB::upsample::1::h"), TARGET)
    assert _sent(action) == {"taskId": "17", "customId": "MJ::JOB::upsample::1::h"}
    modal = MIDJOURNEY.submit(
        _req(action="modal", parent_task_id="18", prompt="wider", mask=ImageInput(url=PNG)), TARGET
    )
    assert _sent(modal) == {"taskId": "18", "prompt": "wider", "maskBase64": PNG}
    fast = MIDJOURNEY.submit(_req(prompt="a cat"), TARGET._replace(options={"mode": "fast"}))
    assert fast.path == "/mj-fast/mj/submit/imagine"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"action": "paint", "prompt": "x"}, "action"),
        ({"prompt": None}, "prompt"),
        ({"prompt": "x", "images": [ImageInput(url="https://example.com/a.png")]}, "images[0]"),
        ({"action": "blend", "images": [ImageInput(url=PNG)]}, "images"),
        ({"action": "blend", "images": [ImageInput(url=PNG)] * 2, "aspect_ratio": "16:9"}, "aspect_ratio"),
        ({"action": "change", "change": "UPSCALE", "index": 1}, "task_id"),
        ({"action": "change", "parent_task_id": "1", "change": "UPSCALE", "index": 5}, "index"),
        ({"action": "change", "parent_task_id": "1", "change": "ZOOM", "index": 1}, "change"),
        ({"action": "simple-change", "parent_task_id": "1", "change": "U9"}, "change"),
        ({"action": "action", "parent_task_id": "1"}, "custom_id"),
    ],
)
def test_bad_requests_are_400s_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        MIDJOURNEY.submit(_req(**fields), TARGET)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST and caught.value.param == param


def test_submit_codes() -> None:
    request = _req(prompt="a cat")
    ok = MIDJOURNEY.parse_submit(
        _ok({"code": 1, "description": "Submit success", "result": "1320098173412546"}), request, TARGET
    )
    assert ok.upstream_id == "1320098173412546" and ok.state is not None and ok.state.status is TaskStatus.QUEUED
    queued = MIDJOURNEY.parse_submit(
        _ok(
            {"code": 22, "description": "排队中，前面还有1个任务", "result": "42", "properties": {"numberOfQueues": 1}}
        ),
        request,
        TARGET,
    )
    assert queued.upstream_id == "42" and queued.state is not None and queued.state.status is TaskStatus.QUEUED
    assert queued.state.details == {"queue_ahead": 1} and ok.state.details == {}
    existing = MIDJOURNEY.parse_submit(
        _ok({"code": 21, "description": "任务已存在", "result": "41", "properties": {"status": "SUCCESS"}}),
        request,
        TARGET,
    )
    assert existing.upstream_id == "41" and existing.state is None
    modal = MIDJOURNEY.parse_submit(
        _ok({"code": 21, "description": "Waiting for window confirm", "result": "43"}), request, TARGET
    )
    assert modal.state is not None and modal.state.status is TaskStatus.RUNNING and modal.state.vendor_status == "MODAL"
    for code, kind, status in [
        (4, ErrorKind.INVALID_REQUEST, 400),
        (24, ErrorKind.INVALID_REQUEST, 400),
        (23, ErrorKind.RATE_LIMIT, 429),
        (9, ErrorKind.UPSTREAM, 502),
    ]:
        with pytest.raises(GatewayError) as caught:
            MIDJOURNEY.parse_submit(
                _ok({"code": code, "description": f"refused {code}", "result": None}), request, TARGET
            )
        assert caught.value.kind is kind and caught.value.status == status
        assert f"refused {code}" in caught.value.message and caught.value.code == str(code)
    with pytest.raises(GatewayError):
        MIDJOURNEY.parse_submit(_ok({"code": 1, "description": "Submit success", "result": None}), request, TARGET)


RECORDED = {
    "id": "1320098173412546",
    "action": "IMAGINE",
    "status": "SUCCESS",
    "prompt": "a cat",
    "promptEn": "a cat",
    "description": "/imagine a cat",
    "submitTime": 1689231405854,
    "startTime": 1689231442755,
    "finishTime": 1689231544312,
    "progress": "100%",
    "imageUrl": "https://cdn.discordapp.com/attachments/1/2/mock_a_cat.png?ex=1&is=2",
    "failReason": None,
    "properties": {"finalPrompt": "a cat --v 6.1"},
    "buttons": [{"customId": "MJ::JOB::upsample::1::ab12", "emoji": "", "label": "U1", "style": 2, "type": 2}],
}


def test_poll_statuses_outputs_and_buttons() -> None:
    assert MIDJOURNEY.poll("13/20", TARGET) == UpstreamCall("/mj/task/13%2F20/fetch", method="GET")
    done = MIDJOURNEY.parse_poll(_ok(RECORDED), TARGET, None)
    assert isinstance(done, TaskState) and done.status is TaskStatus.SUCCEEDED and done.progress == 100
    assert [(o.kind, o.mime) for o in done.outputs] == [("image", "image/png")]
    assert done.outputs[0].url == RECORDED["imageUrl"] and not done.outputs[0].auth
    assert done.details["buttons"][0]["customId"] == "MJ::JOB::upsample::1::ab12"
    assert done.details["final_prompt"] == "a cat --v 6.1"
    assert not done.result_in_details  # an image task's result is its files
    for action in ("DESCRIBE", "SHORTEN"):  # the result is the text of finalPrompt: whole without files
        text = MIDJOURNEY.parse_poll(_ok(RECORDED | {"action": action, "imageUrl": None}), TARGET, None)
        assert isinstance(text, TaskState) and text.status is TaskStatus.SUCCEEDED and text.outputs == []
        assert text.result_in_details and text.details["final_prompt"] == "a cat --v 6.1"
    running = MIDJOURNEY.parse_poll(_ok(RECORDED | {"action": "DESCRIBE", "status": "IN_PROGRESS"}), TARGET, None)
    assert isinstance(running, TaskState) and not running.result_in_details
    for raw, status, progress in [
        ("NOT_START", TaskStatus.QUEUED, 0),
        ("SUBMITTED", TaskStatus.QUEUED, 0),
        ("MODAL", TaskStatus.RUNNING, 0),
        ("IN_PROGRESS", TaskStatus.RUNNING, 30),
        ("SOMETHING_NEW", TaskStatus.RUNNING, 30),
    ]:
        state = MIDJOURNEY.parse_poll(_ok(RECORDED | {"status": raw, "progress": f"{progress}%"}), TARGET, None)
        assert isinstance(state, TaskState) and state.status is status and state.progress == progress
        assert state.outputs == []
    failed = MIDJOURNEY.parse_poll(_ok(RECORDED | {"status": "FAILURE", "failReason": "Banned prompt"}), TARGET, None)
    assert isinstance(failed, TaskState) and failed.status is TaskStatus.FAILED and failed.failure == "Banned prompt"
    cancelled = MIDJOURNEY.parse_poll(_ok(RECORDED | {"status": "CANCEL"}), TARGET, None)
    assert isinstance(cancelled, TaskState) and cancelled.status is TaskStatus.FAILED and cancelled.failure
    with pytest.raises(GatewayError):
        MIDJOURNEY.parse_poll(Answer(200, {}, b"null"), TARGET, None)
    many = MIDJOURNEY.poll_many(["1", "2"], TARGET)
    assert many is not None and many.path == "/mj/task/list-by-condition" and _sent(many) == {"ids": ["1", "2"]}
    states = MIDJOURNEY.parse_poll_many(_ok([RECORDED, RECORDED | {"id": "2", "status": "IN_PROGRESS"}]), TARGET)
    assert {k: v.status for k, v in states.items()} == {
        "1320098173412546": TaskStatus.SUCCEEDED,
        "2": TaskStatus.RUNNING,
    }
    assert MIDJOURNEY.poll_many([str(i) for i in range(101)], TARGET) is None


def test_error_answers_name_the_proxy_not_the_key() -> None:
    error = MIDJOURNEY.decode_error(401, b'{"code": 4, "description": "invalid mj-api-secret"}')
    assert error.kind is ErrorKind.AUTHENTICATION and "invalid mj-api-secret" in error.message
    assert "mj-secret" not in error.message
    html = MIDJOURNEY.decode_error(502, b"<html>bad gateway</html>")
    assert html.status == 502 and "midjourney-proxy" in html.message


# ---------------------------------------------------------------- against the live mock


@pytest.fixture
async def live(mock_upstream: MockUpstream) -> AsyncIterator[tuple[aiohttp.ClientSession, TaskTarget]]:
    mock_upstream.clear_script()
    target = TaskTarget("midjourney", {}, "mj-secret", mock_upstream.url, "ext", time.time())
    async with aiohttp.ClientSession() as session:
        yield session, target


async def _send(session: aiohttp.ClientSession, call: UpstreamCall, target: TaskTarget) -> Answer:
    url = call.path if call.path.startswith("http") else target.base_url + call.path
    headers = {"content-type": call.content_type} | PROVIDERS[ProviderKind.MIDJOURNEY].auth_headers(target.upstream_key)
    async with session.request(call.method, url, data=call.body or None, headers=headers) as response:
        return Answer(response.status, dict(response.headers), await response.read())


async def _run(session: aiohttp.ClientSession, target: TaskTarget, request: TaskRequest) -> tuple[str, TaskState]:
    codec: TaskVendor = MIDJOURNEY
    submitted = codec.parse_submit(await _send(session, codec.submit(request, target), target), request, target)
    for _ in range(10):
        state = codec.parse_poll(await _send(session, codec.poll(submitted.upstream_id, target), target), target, None)
        assert isinstance(state, TaskState)
        if state.status.terminal:
            return submitted.upstream_id, state
    raise AssertionError("not terminal")


async def test_imagine_then_upscale_against_the_mock(live: tuple[aiohttp.ClientSession, TaskTarget]) -> None:
    session, target = live
    grid_id, grid = await _run(session, target, _req(prompt="a red fox"))
    assert grid.status is TaskStatus.SUCCEEDED and grid.outputs[0].mime == "image/png"
    async with session.get(grid.outputs[0].url) as response:
        assert Image.open(io.BytesIO(await response.read())).format == "PNG"
    upsample = grid.details["buttons"][0]["customId"]
    request = _req(action="action", parent_task_id=grid_id, custom_id=upsample)
    _, single = await _run(session, target, request)
    assert single.status is TaskStatus.SUCCEEDED and single.details["action"] == "UPSCALE"
    many = MIDJOURNEY.poll_many([grid_id, "missing"], target)
    assert many is not None
    states = MIDJOURNEY.parse_poll_many(await _send(session, many, target), target)
    assert list(states) == [grid_id] and states[grid_id].status is TaskStatus.SUCCEEDED


async def test_failure_modal_and_refusals_against_the_mock(live: tuple[aiohttp.ClientSession, TaskTarget]) -> None:
    session, target = live
    _, failed = await _run(session, target, _req(prompt='x [[mock {"body_error": true, "message": "Banned prompt"}]]'))
    assert failed.status is TaskStatus.FAILED and failed.failure == "Banned prompt"
    with pytest.raises(GatewayError) as caught:
        request = _req(prompt='x [[mock {"code": "24"}]]')
        MIDJOURNEY.parse_submit(await _send(session, MIDJOURNEY.submit(request, target), target), request, target)
    assert caught.value.status == 400 and caught.value.code == "24"
    grid_id, _ = await _run(session, target, _req(prompt="a hill"))
    up = _req(action="change", parent_task_id=grid_id, change="UPSCALE", index=1)
    up_id, _ = await _run(session, target, up)
    answer = await _send(session, MIDJOURNEY.poll(up_id, target), target)
    zoom = next(b["customId"] for b in orjson.loads(answer.body)["buttons"] if "Outpaint::50" in b["customId"])
    request = _req(action="action", parent_task_id=up_id, custom_id=zoom)
    waiting = MIDJOURNEY.parse_submit(await _send(session, MIDJOURNEY.submit(request, target), target), request, target)
    assert waiting.state is not None and waiting.state.vendor_status == "MODAL"
    modal = _req(action="modal", parent_task_id=waiting.upstream_id, prompt="a hill, wider")
    _, zoomed = await _run(session, target, modal)
    assert zoomed.status is TaskStatus.SUCCEEDED and zoomed.details["action"] == "ZOOM"
    denied = await _send(session, MIDJOURNEY.poll(up_id, target), target._replace(upstream_key="bad-key"))
    assert denied.status == 401
    error = MIDJOURNEY.decode_error(denied.status, denied.body)
    assert error.kind is ErrorKind.AUTHENTICATION and "bad-key" not in error.message
