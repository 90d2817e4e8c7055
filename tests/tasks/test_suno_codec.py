"""Suno-API codec: submit bodies for music, lyrics and continues, statuses, clips as outputs, batch fetch,
errors inside the ``{code, data}`` envelope, bad input refused naming the field."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.media.base import Answer
from omnirouter.protocols.tasks.base import BatchPoll, TaskTarget
from omnirouter.protocols.tasks.suno import SUNO_MUSIC
from omnirouter.providers.capabilities import Capability
from omnirouter.providers.kinds import ProviderKind
from omnirouter.providers.registry import provider_spec


def _target(model: str = "suno_music") -> TaskTarget:
    return TaskTarget(model, {}, "sk-suno", "http://suno.example", "task_ext_1", 1_700_000_000.0)


def _answer(obj: Any, status: int = 200) -> Answer:
    return Answer(status, {"content-type": "application/json"}, orjson.dumps(obj))


def _music(**extra: Any) -> TaskRequest:
    return TaskRequest(kind=TaskKind.MUSIC, model="suno_music", prompt="[Verse] hello", mode="music", extra=extra)


def test_registered_as_the_music_task_of_provider_suno() -> None:
    spec = provider_spec(ProviderKind.SUNO)
    assert spec.tasks[Capability.MUSIC_TASK] is SUNO_MUSIC
    assert isinstance(SUNO_MUSIC, BatchPoll)


def test_music_submit_carries_every_field() -> None:
    request = _music(mv="chirp-v3-5", title="Song", tags="pop", make_instrumental=False, other="dropped")
    call = SUNO_MUSIC.submit(request, _target())
    assert call.path == "/suno/submit/music" and call.method == "POST"
    assert orjson.loads(call.body) == {
        "prompt": "[Verse] hello",
        "mv": "chirp-v3-5",
        "title": "Song",
        "tags": "pop",
        "make_instrumental": False,
    }


def test_continue_sends_the_clip_and_the_second() -> None:
    call = SUNO_MUSIC.submit(_music(continue_clip_id="clip-1", continue_at=30), _target())
    body = orjson.loads(call.body)
    assert body["continue_clip_id"] == "clip-1" and body["continue_at"] == 30


@pytest.mark.parametrize(
    ("request_", "param"),
    [
        (TaskRequest(kind=TaskKind.MUSIC, model="suno_music", mode="music"), "prompt"),
        (TaskRequest(kind=TaskKind.MUSIC, model="suno_lyrics", mode="lyrics"), "prompt"),
        (_music(continue_at="soon", continue_clip_id="c"), "continue_at"),
        (_music(continue_at=10), "continue_clip_id"),
        (_music(make_instrumental="yes"), "make_instrumental"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(request_: TaskRequest, param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        SUNO_MUSIC.submit(request_, _target(request_.model))
    assert caught.value.kind is ErrorKind.INVALID_REQUEST and caught.value.param == param


def test_lyrics_by_mode_or_by_model_name() -> None:
    by_model = TaskRequest(kind=TaskKind.MUSIC, model="suno_lyrics", prompt="rain")
    call = SUNO_MUSIC.submit(by_model, _target("suno_lyrics"))
    assert call.path == "/suno/submit/lyrics" and orjson.loads(call.body) == {"prompt": "rain"}


def test_submit_answer_and_envelope_errors() -> None:
    got = SUNO_MUSIC.parse_submit(_answer({"code": "success", "message": "", "data": "t-1"}), _music(), _target())
    assert got.upstream_id == "t-1" and got.state is not None and got.state.status is TaskStatus.QUEUED
    with pytest.raises(GatewayError) as caught:
        SUNO_MUSIC.parse_submit(_answer({"code": "error", "message": "no credits"}), _music(), _target())
    assert "no credits" in caught.value.message


def _task(task_id: str, status: str, **more: Any) -> dict[str, Any]:
    return {"task_id": task_id, "action": "MUSIC", "status": status, "fail_reason": "", **more}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("NOT_START", TaskStatus.QUEUED),
        ("SUBMITTED", TaskStatus.QUEUED),
        ("QUEUED", TaskStatus.QUEUED),
        ("IN_PROGRESS", TaskStatus.RUNNING),
        ("UNKNOWN", TaskStatus.RUNNING),
        ("whatever", TaskStatus.RUNNING),
    ],
)
def test_statuses(raw: str, status: TaskStatus) -> None:
    state = SUNO_MUSIC.parse_poll(_answer({"code": "success", "data": _task("t", raw)}), _target(), None)
    assert not isinstance(state, tuple) and state.status is status


def test_success_outputs_each_clips_audio_and_image() -> None:
    clips = [
        {"id": "c1", "audio_url": "http://cdn/c1.mp3", "image_url": "http://cdn/c1.jpeg"},
        {"id": "c2", "audio_url": "http://cdn/c2.mp3", "image_url": "http://cdn/c2.jpeg"},
    ]
    poll = SUNO_MUSIC.poll("t 1", _target())
    assert poll.path == "/suno/fetch/t%201" and poll.method == "GET"
    state = SUNO_MUSIC.parse_poll(
        _answer({"code": "success", "data": _task("t", "SUCCESS", data=clips)}), _target(), None
    )
    assert not isinstance(state, tuple) and state.status is TaskStatus.SUCCEEDED
    assert [(o.kind, o.url, o.mime) for o in state.outputs] == [
        ("audio", "http://cdn/c1.mp3", "audio/mpeg"),
        ("image", "http://cdn/c1.jpeg", "image/jpeg"),
        ("audio", "http://cdn/c2.mp3", "audio/mpeg"),
        ("image", "http://cdn/c2.jpeg", "image/jpeg"),
    ]


def test_failure_carries_the_reason() -> None:
    answer = _answer({"code": "success", "data": _task("t", "FAILURE", fail_reason="content policy")})
    state = SUNO_MUSIC.parse_poll(answer, _target(), None)
    assert not isinstance(state, tuple) and state.status is TaskStatus.FAILED and state.failure == "content policy"


def test_batch_fetch() -> None:
    call = SUNO_MUSIC.poll_many(["a", "b"], _target())
    assert call is not None and call.path == "/suno/fetch" and orjson.loads(call.body) == {"ids": ["a", "b"]}
    assert SUNO_MUSIC.poll_many([], _target()) is None
    answer = _answer({"code": "success", "data": [_task("a", "IN_PROGRESS"), _task("b", "FAILURE", fail_reason="x")]})
    states = SUNO_MUSIC.parse_poll_many(answer, _target())
    assert {k: v.status for k, v in states.items()} == {"a": TaskStatus.RUNNING, "b": TaskStatus.FAILED}


def test_non_2xx_keeps_the_vendors_message() -> None:
    error = SUNO_MUSIC.decode_error(401, orjson.dumps({"code": "unauthorized", "message": "bad token"}))
    assert error.kind is ErrorKind.AUTHENTICATION and "bad token" in error.message


def test_lyrics_success_is_one_inline_text_output() -> None:
    lyrics = {"id": "l1", "text": "[Verse] rain", "title": "Rain", "status": "complete"}
    answer = _answer({"code": "success", "data": {**_task("t", "SUCCESS"), "action": "LYRICS", "data": lyrics}})
    state = SUNO_MUSIC.parse_poll(answer, _target("suno_lyrics"), None)
    assert not isinstance(state, tuple) and state.status is TaskStatus.SUCCEEDED
    [output] = state.outputs
    assert output.kind == "text" and output.mime == "application/json"
    assert orjson.loads(base64.b64decode(output.url.partition(",")[2])) == {"text": "[Verse] rain", "title": "Rain"}
