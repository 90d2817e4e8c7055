"""The video task vendors of part A end to end against the mock upstream: each codec's submit goes over
real HTTP with the vendor's auth (Kling's JWT, Vidu's Token, Bearer, Volcengine V4), its answers are
parsed by the codec, polls follow the scripted timeline (Followups too) to a terminal state, and the
result MP4 decodes with PyAV."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import av
import orjson
import pytest
from PIL import Image

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskRequest, TaskState, TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.mock_upstream.tasks_wires_a import mock_secret
from omnirouter.protocols.media.base import Answer, Followup, UpstreamCall
from omnirouter.protocols.tasks.base import BatchPoll, TaskTarget, TaskVendor
from omnirouter.providers import PROVIDERS, Capability, ProviderKind

VENDORS = {
    ProviderKind.KLING: ("kling-v2-1", f"ak1|{mock_secret('ak1')}"),
    ProviderKind.VIDU: ("viduq1", "vidu-key"),
    ProviderKind.MINIMAX: ("MiniMax-Hailuo-02", "mm-key"),
    ProviderKind.ARK: ("doubao-seedance-1-0-pro-250528", "ark-key"),
    ProviderKind.JIMENG: ("jimeng_t2v_v30", f"ak2|{mock_secret('ak2')}"),
}


@pytest.fixture
async def mock(mock_upstream: MockUpstream) -> AsyncIterator[MockUpstream]:
    mock_upstream.clear_script()
    yield mock_upstream
    mock_upstream.clear_script()


def _setup(kind: ProviderKind, mock: MockUpstream, key: str | None = None) -> tuple[TaskVendor, TaskTarget]:
    model, default_key = VENDORS[kind]
    target = TaskTarget(model, {}, key or default_key, mock.url, f"ext-{kind.value}-{time.time_ns()}", time.time())
    return PROVIDERS[kind].tasks[Capability.VIDEO_TASK], target


async def _send(session: aiohttp.ClientSession, kind: ProviderKind, call: UpstreamCall, target: TaskTarget) -> Answer:
    url = call.path if call.path.startswith("http") else target.base_url + call.path
    headers = {"content-type": call.content_type} if call.body else {}
    if call.auth:
        headers |= PROVIDERS[kind].auth_headers(target.upstream_key)
    headers |= dict(call.headers)
    async with session.request(call.method, url, data=call.body or None, headers=headers) as response:
        return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read())


async def _run(
    kind: ProviderKind, mock: MockUpstream, request: TaskRequest, *, key: str | None = None, polls: int = 12
) -> tuple[TaskState, list[Any]]:
    """Submit, then poll until terminal; returns the final state and what each poll gave (a status or an error)."""
    codec, target = _setup(kind, mock, key)
    seen: list[Any] = []
    async with aiohttp.ClientSession() as session:
        answer = await _send(session, kind, codec.submit(request, target), target)
        if answer.status >= 300:
            raise codec.decode_error(answer.status, answer.body)
        submitted = codec.parse_submit(answer, request, target)
        for _ in range(polls):
            step: Followup | None = None
            call = codec.poll(submitted.upstream_id, target._replace(now=time.time()))
            while True:
                answer = await _send(session, kind, call, target)
                if answer.status >= 300:
                    seen.append(codec.decode_error(answer.status, answer.body))
                    break
                try:
                    result = codec.parse_poll(answer, target, step)
                except GatewayError as exc:
                    seen.append(exc)
                    break
                if isinstance(result, Followup):
                    step, call = result, result.call
                    continue
                seen.append(result.status)
                if result.status.terminal:
                    return result, seen
                break
    raise AssertionError(f"not terminal after {polls} polls: {seen}")


async def _fetch(url: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read(), response.content_type


def _frames(data: bytes) -> tuple[int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert container.duration is not None
        return frames, container.duration / 1_000_000


@pytest.mark.parametrize("kind", list(VENDORS))
async def test_each_vendor_runs_to_success_and_its_video_decodes(mock: MockUpstream, kind: ProviderKind) -> None:
    request = TaskRequest(model="m", prompt="a fox in the snow", seconds=5)
    state, seen = await _run(kind, mock, request)
    assert state.status is TaskStatus.SUCCEEDED
    assert seen[-1] is TaskStatus.SUCCEEDED and len(seen) == 3  # two polls in progress (the default), then done
    assert seen[1] is TaskStatus.RUNNING
    video = next(o for o in state.outputs if o.kind == "video")
    status, data, content_type = await _fetch(video.url)
    assert status == 200 and content_type == "video/mp4"
    frames, seconds = _frames(data)
    made = 6 if kind is ProviderKind.MINIMAX else 5  # MiniMax makes 6 or 10 seconds: 5 maps to 6
    assert frames > 10 and seconds == pytest.approx(made, abs=0.2)
    for extra in state.outputs:
        if extra.kind != "video":
            status, data, _ = await _fetch(extra.url)
            assert status == 200
            assert Image.open(io.BytesIO(data)).format == "JPEG"
    posts = [r for r in mock.requests if r.method == "POST" and r.query.get("Action") != "CVSync2AsyncGetResult"]
    sent = posts[-1]
    if kind is ProviderKind.KLING:
        assert sent.body["duration"] == "5" and sent.body["external_task_id"].startswith("ext-kling")
        assert state.seconds == 5.0 and state.credits == 1.0
    if kind is ProviderKind.ARK:
        assert state.usage is not None and state.usage.output_tokens == 100_000
        assert [o.kind for o in state.outputs] == ["video", "last_frame"]
    if kind is ProviderKind.VIDU:
        assert [o.kind for o in state.outputs] == ["video", "thumbnail"] and state.credits == 20.0
    if kind is ProviderKind.JIMENG:
        assert sent.body["frames"] == 121


@pytest.mark.parametrize("kind", list(VENDORS))
async def test_a_vendor_failure_ends_failed_with_its_reason(mock: MockUpstream, kind: ProviderKind) -> None:
    mock.script({"body_error": True, "message": "mock says no", "pending_polls": 1})
    state, seen = await _run(kind, mock, TaskRequest(model="m", prompt="x"))
    assert state.status is TaskStatus.FAILED and len(seen) == 2
    assert state.failure is not None
    if kind is not ProviderKind.VIDU:  # Vidu reports only an err_code
        assert "mock says no" in state.failure


@pytest.mark.parametrize("kind", list(VENDORS))
async def test_transient_poll_faults_never_end_the_task(mock: MockUpstream, kind: ProviderKind) -> None:
    mock.script({"poll_faults": ["not_found", "unknown", 500, 429], "pending_polls": 1})
    state, seen = await _run(kind, mock, TaskRequest(model="m", prompt="x"))
    assert state.status is TaskStatus.SUCCEEDED
    not_found, unknown, html, limited = seen[:4]
    assert unknown is TaskStatus.RUNNING  # an unknown raw status is still running
    if kind is ProviderKind.JIMENG:
        assert not_found is TaskStatus.RUNNING  # Jimeng's own not_found status
    else:
        assert isinstance(not_found, GatewayError)
    assert isinstance(html, GatewayError) and html.status == 500 and html.kind is ErrorKind.UPSTREAM
    assert isinstance(limited, GatewayError) and limited.status == 429 and limited.kind is ErrorKind.RATE_LIMIT
    assert seen[4:] == [TaskStatus.QUEUED, TaskStatus.SUCCEEDED]  # one poll in progress (queued), then done


async def test_a_result_url_dies_after_its_first_fetch(mock: MockUpstream) -> None:
    mock.script({"media_fetches": 1, "pending_polls": 0})
    state, _ = await _run(ProviderKind.ARK, mock, TaskRequest(model="m", prompt="x"))
    assert (await _fetch(state.outputs[0].url))[0] == 200
    assert (await _fetch(state.outputs[0].url))[0] == 404


async def test_a_result_url_dies_after_its_time(mock: MockUpstream) -> None:
    mock.script({"media_ttl": 0.2, "pending_polls": 0})
    state, _ = await _run(ProviderKind.VIDU, mock, TaskRequest(model="m", prompt="x"))
    assert (await _fetch(state.outputs[0].url))[0] == 200
    time.sleep(0.3)
    assert (await _fetch(state.outputs[0].url))[0] == 404


async def test_a_kling_submit_that_timed_out_is_found_by_its_external_id(mock: MockUpstream) -> None:
    codec, target = _setup(ProviderKind.KLING, mock)
    request = TaskRequest(model="m", prompt="slow")
    mock.script({"delay": 2})
    call = codec.submit(request, target)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as session:
        with pytest.raises(TimeoutError):
            await _send(session, ProviderKind.KLING, call, target)
    found = codec.find(target, request)
    assert found is not None
    async with aiohttp.ClientSession() as session:
        answer = await _send(session, ProviderKind.KLING, found, target)
    upstream_id = codec.parse_find(answer, target, request)
    assert upstream_id is not None and upstream_id.startswith("text2video/")
    other = target._replace(external_id="never-sent")
    async with aiohttp.ClientSession() as session:
        missing = await _send(session, ProviderKind.KLING, codec.find(other, request) or call, other)
    assert codec.parse_find(missing, other, request) is None


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (ProviderKind.KLING, "ak1|" + "w" * 35),
        (ProviderKind.JIMENG, "ak2|" + "w" * 35),
        (ProviderKind.VIDU, "bad-key"),
        (ProviderKind.ARK, "bad-key"),
    ],
)
async def test_a_wrong_key_is_refused_by_the_vendors_auth(mock: MockUpstream, kind: ProviderKind, key: str) -> None:
    with pytest.raises(GatewayError) as caught:
        await _run(kind, mock, TaskRequest(model="m", prompt="x"), key=key)
    assert caught.value.status == 401 and caught.value.kind is ErrorKind.AUTHENTICATION
    assert "secret" not in caught.value.message


async def test_minimax_reports_a_bad_key_inside_a_200(mock: MockUpstream) -> None:
    with pytest.raises(GatewayError) as caught:
        await _run(ProviderKind.MINIMAX, mock, TaskRequest(model="m", prompt="x"), key="bad-key")
    assert caught.value.kind is ErrorKind.AUTHENTICATION and caught.value.code == "1004"


async def test_ark_cancels_a_queued_task(mock: MockUpstream) -> None:
    codec, target = _setup(ProviderKind.ARK, mock)
    request = TaskRequest(model="m", prompt="x")
    async with aiohttp.ClientSession() as session:
        submitted = codec.parse_submit(
            await _send(session, ProviderKind.ARK, codec.submit(request, target), target), request, target
        )
        cancel = codec.cancel(submitted.upstream_id, target)
        assert cancel is not None and cancel.method == "DELETE"
        assert (await _send(session, ProviderKind.ARK, cancel, target)).status == 200
        state = codec.parse_poll(
            await _send(session, ProviderKind.ARK, codec.poll(submitted.upstream_id, target), target), target, None
        )
    assert isinstance(state, TaskState) and state.status is TaskStatus.CANCELLED


async def test_kling_image_to_video_and_ten_seconds(mock: MockUpstream) -> None:
    from omnirouter.ir.media import ImageInput

    request = TaskRequest(model="m", prompt="move", images=[ImageInput(url="https://example.com/a.png")], seconds=9)
    state, _ = await _run(ProviderKind.KLING, mock, request)
    sent = [r for r in mock.requests if r.path.startswith("/v1/videos/image2video")]
    assert sent[0].method == "POST" and sent[0].body["duration"] == "10" and sent[0].body["image"].endswith("a.png")
    assert all(r.path.startswith("/v1/videos/image2video/") for r in sent[1:])
    frames, seconds = _frames((await _fetch(state.outputs[0].url))[1])
    assert frames == 80
    assert seconds == pytest.approx(10, abs=0.2)


async def test_ark_lists_tasks_by_id_each_one_poll_on(mock: MockUpstream) -> None:
    codec, target = _setup(ProviderKind.ARK, mock)
    assert isinstance(codec, BatchPoll)
    request = TaskRequest(model="m", prompt="x")
    async with aiohttp.ClientSession() as session:

        async def submit(directive: dict[str, Any]) -> str:
            mock.script(directive)
            answer = await _send(session, ProviderKind.ARK, codec.submit(request, target), target)
            return codec.parse_submit(answer, request, target).upstream_id

        async def listed(ids: list[str]) -> dict[str, TaskState]:
            call = codec.poll_many(ids, target)
            assert call is not None
            answer = await _send(session, ProviderKind.ARK, call, target)
            assert answer.status == 200, answer.body
            return codec.parse_poll_many(answer, target)

        quick, slow, gone = (
            await submit({"pending_polls": 1}),
            await submit({}),
            await submit({"poll_faults": ["not_found"]}),
        )
        first = await listed([quick, slow, gone, "cgt-nobody"])
        assert {k: v.status for k, v in first.items()} == {quick: TaskStatus.QUEUED, slow: TaskStatus.QUEUED}
        second = await listed([quick, slow, gone])
        assert second[quick].status is TaskStatus.SUCCEEDED and second[quick].outputs[0].url.startswith(mock.url)
        assert (second[slow].status, second[gone].status) == (TaskStatus.RUNNING, TaskStatus.QUEUED)
        # A scripted HTTP fault of one task answers for the whole list, and no task moves.
        mock.state.tasks[f"ark:{slow}"].faults.append(500)  # type: ignore[union-attr]
        call = codec.poll_many([slow, gone], target)
        assert call is not None and (await _send(session, ProviderKind.ARK, call, target)).status == 500
        assert (await listed([slow, gone]))[gone].status is TaskStatus.RUNNING
        # Paging and its bounds, as Ark's list.
        bad = UpstreamCall("/api/v3/contents/generations/tasks?page_size=501", method="GET")
        assert (await _send(session, ProviderKind.ARK, bad, target)).status == 400
        page = UpstreamCall(f"/api/v3/contents/generations/tasks?page_size=1&page_num=2&filter.task_ids={quick}"
                            f"&filter.task_ids={slow}", method="GET")  # fmt: skip
        answer = await _send(session, ProviderKind.ARK, page, target)
        body = orjson.loads(answer.body)
        assert body["total"] == 2 and [item["id"] for item in body["items"]] == [quick]  # newest first: slow, quick
