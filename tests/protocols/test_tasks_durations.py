"""``TaskVendor.seconds_for`` on every video codec: the seconds each vendor makes for a request are the
ones its ``submit`` sends (every duration a client may ask, 1 to 60 s by halves, on every model family),
the vendor's documented default when none is asked (and then nothing is sent), one of the durations the
model makes; and vendor-native fields cannot change the duration behind the bill."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from omnirouter.ir import GatewayError
from omnirouter.ir.task import TaskRequest
from omnirouter.protocols.media.base import UpstreamCall
from omnirouter.protocols.tasks.base import TaskTarget, TaskVendor
from omnirouter.protocols.tasks.fields import MAX_SECONDS, MIN_SECONDS
from omnirouter.protocols.tasks.hailuo import HAILUO_VIDEO
from omnirouter.protocols.tasks.hunyuan import HUNYUAN_VIDEO
from omnirouter.protocols.tasks.jimeng import JIMENG_VIDEO
from omnirouter.protocols.tasks.kling import KLING_VIDEO
from omnirouter.protocols.tasks.mock_video import MOCK_VIDEO
from omnirouter.protocols.tasks.pixverse import PIXVERSE_VIDEO
from omnirouter.protocols.tasks.seedance import SEEDANCE_VIDEO
from omnirouter.protocols.tasks.sora import SORA_VIDEO
from omnirouter.protocols.tasks.veo import VEO_VIDEO
from omnirouter.protocols.tasks.vidu import VIDU_VIDEO
from omnirouter.protocols.tasks.wan import WAN_VIDEO

KEY = "ak-test|" + "s" * 32  # a pair for the vendors that sign; a plain key for the others is never read
ASKED = [MIN_SECONDS + step / 2 for step in range(int((MAX_SECONDS - MIN_SECONDS) * 2) + 1)]


def _target(model: str, **options: str) -> TaskTarget:
    return TaskTarget(model, options, KEY, "https://vendor.example", "omni-task_1", 1_750_000_000.0)


def _json(call: UpstreamCall) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(call.body)
    return parsed


def _kling(body: dict[str, Any]) -> float | None:
    return float(body["duration"]) if "duration" in body else None


def _top(body: dict[str, Any]) -> float | None:
    return float(body["duration"]) if "duration" in body else None


def _frames(body: dict[str, Any]) -> float | None:
    return (body["frames"] - 1) / 24 if "frames" in body else None  # Jimeng: 24 fps, plus the first frame


def _veo(body: dict[str, Any]) -> float | None:
    parameters = body["parameters"]
    return float(parameters["durationSeconds"]) if "durationSeconds" in parameters else None


def _sora(body: dict[str, Any]) -> float | None:
    return float(body["seconds"]) if "seconds" in body else None


def _wan(body: dict[str, Any]) -> float | None:
    return float(body["parameters"]["duration"]) if "duration" in body["parameters"] else None


def _mock(body: dict[str, Any]) -> float | None:
    return float(body["seconds"]) if "seconds" in body else None


# (codec, upstream model, channel options, the durations the model makes, its default, the sent duration)
VENDORS: list[Any] = [
    pytest.param(KLING_VIDEO, "kling-v2-1", {}, (5, 10), 5, _kling, id="kling"),
    pytest.param(VIDU_VIDEO, "viduq1", {}, (5,), 5, _top, id="vidu-q1"),
    pytest.param(VIDU_VIDEO, "vidu2.0", {}, (4, 8), 4, _top, id="vidu-2.0"),
    pytest.param(VIDU_VIDEO, "viduq2-pro", {}, tuple(range(1, 11)), 5, _top, id="vidu-q2"),
    pytest.param(VIDU_VIDEO, "viduq3-turbo", {}, tuple(range(1, 17)), 5, _top, id="vidu-q3"),
    pytest.param(HAILUO_VIDEO, "MiniMax-Hailuo-02", {}, (6, 10), 6, _top, id="hailuo-02"),
    pytest.param(HAILUO_VIDEO, "T2V-01", {}, (6,), 6, _top, id="hailuo-t2v-01"),
    pytest.param(SEEDANCE_VIDEO, "doubao-seedance-1-0-pro-250528", {}, tuple(range(2, 13)), 5, _top, id="seedance-1.0"),
    pytest.param(SEEDANCE_VIDEO, "doubao-seedance-1-5-pro-251215", {}, tuple(range(4, 13)), 5, _top, id="seedance-1.5"),
    pytest.param(SEEDANCE_VIDEO, "doubao-seedance-2-0-260128", {}, tuple(range(4, 16)), 5, _top, id="seedance-2.0"),
    pytest.param(JIMENG_VIDEO, "jimeng_t2v_v30", {}, (5, 10), 5, _frames, id="jimeng"),
    pytest.param(VEO_VIDEO, "veo-3.0-generate-001", {}, (4, 6, 8), 8, _veo, id="veo-3"),
    pytest.param(VEO_VIDEO, "veo-2.0-generate-001", {}, (5, 6, 7, 8), 8, _veo, id="veo-2"),
    pytest.param(SORA_VIDEO, "sora-2", {}, (4, 8, 12), 4, _sora, id="sora"),
    pytest.param(WAN_VIDEO, "wan2.6-t2v", {}, (5, 10, 15), 5, _wan, id="wan-2.6"),
    pytest.param(WAN_VIDEO, "wan2.5-t2v-preview", {}, (5, 10), 5, _wan, id="wan-2.5"),
    pytest.param(WAN_VIDEO, "wan2.2-t2v-plus", {}, (5,), 5, _wan, id="wan-2.2"),
    pytest.param(PIXVERSE_VIDEO, "v4.5", {}, (5, 8), 5, _top, id="pixverse"),
    pytest.param(PIXVERSE_VIDEO, "v4.5", {"duration": "8"}, (5, 8), 8, _top, id="pixverse-channel-default"),
]


def _submit(codec: TaskVendor, request: TaskRequest, model: str, options: dict[str, str]) -> dict[str, Any]:
    return _json(codec.submit(request, _target(model, **options)))


@pytest.mark.parametrize(("codec", "model", "options", "made", "default", "sent"), VENDORS)
def test_every_asked_duration_is_made_as_submit_sends_it(
    codec: TaskVendor, model: str, options: dict[str, str], made: tuple[int, ...], default: int, sent: Any
) -> None:
    for seconds in ASKED:
        request = TaskRequest(model="public", prompt="a lighthouse", seconds=seconds)
        predicted = codec.seconds_for(request, model, options)
        assert predicted == sent(_submit(codec, request, model, options)), seconds
        assert predicted in made, seconds
        nearest = min(made, key=lambda choice: (abs(choice - seconds), choice))
        assert predicted == nearest, seconds  # the nearest the model makes, a tie to the shorter


@pytest.mark.parametrize(("codec", "model", "options", "made", "default", "sent"), VENDORS)
def test_without_a_duration_the_vendors_default_is_made(
    codec: TaskVendor, model: str, options: dict[str, str], made: tuple[int, ...], default: int, sent: Any
) -> None:
    request = TaskRequest(model="public", prompt="a lighthouse")
    assert codec.seconds_for(request, model, options) == default and default in made
    body = _submit(codec, request, model, options)
    if codec is PIXVERSE_VIDEO:
        assert sent(body) == default  # PixVerse has no default of its own: the codec always sends one
    else:
        assert sent(body) is None  # nothing invented: the vendor's own default applies


def test_the_made_duration_follows_the_resolution_where_the_vendor_limits_it() -> None:
    pairs: list[tuple[TaskVendor, str]] = [(HAILUO_VIDEO, "MiniMax-Hailuo-02"), (PIXVERSE_VIDEO, "v4.5")]
    for codec, model in pairs:
        for seconds in (8.0, 10.0):
            request = TaskRequest(model="public", prompt="p", seconds=seconds, resolution="1080p")
            if codec is HAILUO_VIDEO:
                request = TaskRequest(model="public", prompt="p", seconds=seconds, resolution="1080P")
            made = codec.seconds_for(request, model, {})
            assert made == _top(_submit(codec, request, model, {}))
            assert made in (5, 6)  # MiniMax makes 6 s only at 1080P, PixVerse 5 s only at 1080p


def test_unknown_models_get_the_request_rounded_where_the_vendor_takes_any_length() -> None:
    pairs: list[tuple[TaskVendor, str]] = [(VIDU_VIDEO, "vidu-next"), (SEEDANCE_VIDEO, "seedance-x")]
    for codec, model in pairs:
        for seconds, made in ((6.4, 6), (6.6, 7), (1.2, 1)):
            request = TaskRequest(model="public", prompt="p", seconds=seconds)
            assert codec.seconds_for(request, model, {}) == made == _top(_submit(codec, request, model, {}))
        assert codec.seconds_for(TaskRequest(model="public", prompt="p"), model, {}) == 5


def test_hunyuan_makes_its_models_own_length_which_nobody_knows() -> None:
    request = TaskRequest(model="public", prompt="a lighthouse", seconds=8)
    assert HUNYUAN_VIDEO.seconds_for(request, "hunyuan-video", {}) is None
    body = _json(HUNYUAN_VIDEO.submit(request, _target("hunyuan-video")))
    assert not {key for key in body if "uration" in key or key == "Frames"}  # no duration is sent


def test_the_mock_vendor_makes_what_is_asked_else_five_seconds() -> None:
    for seconds in (3.5, 12.0):
        request = TaskRequest(model="public", prompt="p", seconds=seconds)
        assert (
            MOCK_VIDEO.seconds_for(request, "vid", {})
            == seconds
            == _mock(_json(MOCK_VIDEO.submit(request, _target("vid"))))
        )
    request = TaskRequest(model="public", prompt="p")
    assert (
        MOCK_VIDEO.seconds_for(request, "vid", {}) == 5.0
        and _mock(_json(MOCK_VIDEO.submit(request, _target("vid")))) is None
    )


def test_a_sora_remix_makes_its_sources_length() -> None:
    request = TaskRequest(model="public", prompt="now at night", seconds=12, remix_of="video_upstream_1")
    assert SORA_VIDEO.seconds_for(request, "sora-2", {}) == 12
    assert SORA_VIDEO.submit(request, _target("sora-2")).path.endswith("/videos/video_upstream_1/remix")


@pytest.mark.parametrize(
    ("codec", "model", "extra", "param"),
    [
        (KLING_VIDEO, "kling-v2-1", {"duration": "10"}, "duration"),
        (VIDU_VIDEO, "viduq2", {"duration": 10}, "duration"),
        (HAILUO_VIDEO, "MiniMax-Hailuo-02", {"duration": 10}, "duration"),
        (SEEDANCE_VIDEO, "doubao-seedance-1-0-pro", {"frames": 241}, "frames"),
        (JIMENG_VIDEO, "jimeng_t2v_v30", {"frames": 241}, "frames"),
        (VEO_VIDEO, "veo-3.0-generate-001", {"durationSeconds": 8}, "durationSeconds"),
        (VEO_VIDEO, "veo-3.0-generate-001", {"sampleCount": 4}, "sampleCount"),
        (SORA_VIDEO, "sora-2", {"seconds": "12"}, "seconds"),
        (WAN_VIDEO, "wan2.6-t2v", {"parameters": {"duration": 15}}, "parameters.duration"),
        (PIXVERSE_VIDEO, "v4.5", {"duration": 8}, "duration"),
        (MOCK_VIDEO, "vid", {"seconds": 30}, "seconds"),
    ],
)
def test_vendor_native_fields_cannot_change_the_billed_duration(
    codec: TaskVendor, model: str, extra: dict[str, Any], param: str
) -> None:
    request = TaskRequest(model="public", prompt="p", seconds=5, extra=extra)
    with pytest.raises(GatewayError) as caught:
        codec.submit(request, _target(model))
    assert caught.value.status == 400 and caught.value.param == param
