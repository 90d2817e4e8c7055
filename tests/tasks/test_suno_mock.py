"""The mock Suno-API server through the Suno codec over real HTTP: music and lyrics to success, continue,
batch fetch, the vendor's failure reason, auth refused; the clips' MP3s decode and the covers are JPEGs."""

from __future__ import annotations

import base64
import io
import time

import aiohttp
import mutagen.mp3
import orjson
import pytest
from PIL import Image

from omnirouter.ir.task import TaskKind, TaskRequest, TaskState, TaskStatus
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.media.base import Answer, UpstreamCall
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.protocols.tasks.suno import SUNO_MUSIC
from omnirouter.providers import PROVIDERS, ProviderKind

KEY = "sk-suno"


def _target(mock: MockUpstream, model: str = "suno_music") -> TaskTarget:
    return TaskTarget(model, {}, KEY, mock.url, f"ext-{time.time_ns()}", time.time())


async def _send(session: aiohttp.ClientSession, call: UpstreamCall, base: str, key: str = KEY) -> Answer:
    headers = {"content-type": call.content_type}
    if call.auth:
        headers.update(PROVIDERS[ProviderKind.SUNO].auth_headers(key))
    url = call.path if call.path.startswith("http") else base + call.path
    async with session.request(call.method, url, data=call.body or None, headers=headers) as response:
        return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read())


async def _run(session: aiohttp.ClientSession, mock: MockUpstream, request: TaskRequest) -> tuple[str, TaskState]:
    target = _target(mock, request.model)
    answer = await _send(session, SUNO_MUSIC.submit(request, target), mock.url)
    assert answer.status == 200, answer.body
    upstream_id = SUNO_MUSIC.parse_submit(answer, request, target).upstream_id
    for _ in range(10):
        answer = await _send(session, SUNO_MUSIC.poll(upstream_id, target), mock.url)
        assert answer.status == 200, answer.body
        state = SUNO_MUSIC.parse_poll(answer, target, None)
        assert isinstance(state, TaskState)
        if state.status.terminal:
            return upstream_id, state
    raise AssertionError("the task never finished")


def _music(prompt: str = "[Verse] rain on the roof", **extra: object) -> TaskRequest:
    return TaskRequest(kind=TaskKind.MUSIC, model="suno_music", prompt=prompt, mode="music", extra=dict(extra))


async def test_music_to_success_with_playable_clips(mock_upstream: MockUpstream) -> None:
    async with aiohttp.ClientSession() as session:
        _, state = await _run(session, mock_upstream, _music(mv="chirp-v3-5", title="Rain", tags="folk"))
        assert state.status is TaskStatus.SUCCEEDED
        assert [o.kind for o in state.outputs] == ["audio", "image", "audio", "image"]
        for output in state.outputs:
            async with session.get(output.url) as response:
                assert response.status == 200
                data = await response.read()
            if output.kind == "audio":
                assert mutagen.mp3.MP3(io.BytesIO(data)).info.length > 1.0
            else:
                assert Image.open(io.BytesIO(data)).format == "JPEG"
    submitted = [r for r in mock_upstream.requests if r["path"] == "/suno/submit/music"]
    assert submitted[-1]["body"] == {
        "prompt": "[Verse] rain on the roof",
        "mv": "chirp-v3-5",
        "title": "Rain",
        "tags": "folk",
    }


async def test_lyrics_and_continue(mock_upstream: MockUpstream) -> None:
    async with aiohttp.ClientSession() as session:
        lyrics = TaskRequest(kind=TaskKind.MUSIC, model="suno_lyrics", prompt="a song about rain")
        _, state = await _run(session, mock_upstream, lyrics)
        assert state.status is TaskStatus.SUCCEEDED
        [text] = state.outputs
        assert text.kind == "text" and text.url.startswith("data:application/json;base64,")
        lyrics = orjson.loads(base64.b64decode(text.url.partition(",")[2]))
        assert "a song about rain" in lyrics["text"] and lyrics["title"]
        assert state.details == {"lyrics": lyrics}  # for dialects to show without reading the result store
        first, state = await _run(session, mock_upstream, _music())
        clip_ids = state.details["vendor_clip_ids"]
        assert clip_ids == [f"{first}-clip0", f"{first}-clip1"]  # Suno's own ids, in the audio outputs' order
        _, state = await _run(session, mock_upstream, _music(continue_clip_id=clip_ids[1], continue_at=12.5))
        assert state.status is TaskStatus.SUCCEEDED
        # Suno continues only its own clips.
        answer = await _send(session, SUNO_MUSIC.submit(_music(continue_clip_id="clip-0", continue_at=1), _target(
            mock_upstream)), mock_upstream.url)  # fmt: skip
        assert answer.status == 400 and "clip-0" in orjson.loads(answer.body)["message"]
    bodies = [r["body"] for r in mock_upstream.requests if r["path"].startswith("/suno/submit/")]
    assert bodies[-4] == {"prompt": "a song about rain"}
    assert bodies[-2]["continue_clip_id"] == clip_ids[1] and bodies[-2]["continue_at"] == 12.5


async def test_batch_fetch_answers_each_task(mock_upstream: MockUpstream) -> None:
    async with aiohttp.ClientSession() as session:
        target = _target(mock_upstream)
        ids = []
        for prompt in ("one", "two"):
            answer = await _send(session, SUNO_MUSIC.submit(_music(prompt), target), mock_upstream.url)
            ids.append(SUNO_MUSIC.parse_submit(answer, _music(), target).upstream_id)
        call = SUNO_MUSIC.poll_many([*ids, "suno-missing"], target)
        assert call is not None
        states: dict[str, TaskState] = {}
        for _ in range(5):
            states = SUNO_MUSIC.parse_poll_many(await _send(session, call, mock_upstream.url), target)
        assert set(states) == set(ids)
        assert all(state.status is TaskStatus.SUCCEEDED and len(state.outputs) == 4 for state in states.values())


async def test_failure_carries_the_reason(mock_upstream: MockUpstream) -> None:
    mock_upstream.script({"body_error": True, "message": "prompt flagged", "pending_polls": 1})
    async with aiohttp.ClientSession() as session:
        _, state = await _run(session, mock_upstream, _music())
    assert state.status is TaskStatus.FAILED and state.failure == "prompt flagged"


@pytest.mark.parametrize("key", ["", "bad-key"])
async def test_auth_is_refused_in_the_envelope(mock_upstream: MockUpstream, key: str) -> None:
    async with aiohttp.ClientSession() as session:
        call = SUNO_MUSIC.submit(_music(), _target(mock_upstream))
        answer = await _send(session, call, mock_upstream.url, key)
    assert answer.status == 401 and orjson.loads(answer.body)["code"] == "unauthorized"
    assert SUNO_MUSIC.decode_error(answer.status, answer.body).status == 401
