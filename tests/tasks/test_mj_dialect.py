"""The midjourney-proxy client dialect, pure: each submit decoded to the model new-api prices it by, a
button's customId decoded as new-api decodes it, the proxy's task object and error shape, and a webhook
body carrying the task object."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import orjson
import pytest

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.ir.task import TaskKind, TaskStatus
from omnirouter.mock_upstream.media_bytes import image as png_bytes
from omnirouter.protocols.tasks.base import TaskView, ViewOutput
from omnirouter.protocols.tasks.mj_dialect import MJ_ACTIONS, MJ_SUBMITS, mj_error, mj_task, model_of_custom_id
from omnirouter.tasks.webhook_body import DIALECTS, render

PNG = "data:image/png;base64," + base64.b64encode(png_bytes("png", 8, 8, 1)).decode()


def _decode(action: str, body: dict[str, Any]) -> Any:
    return MJ_SUBMITS[action].decode_create(orjson.dumps(body), "application/json", None)


@pytest.mark.parametrize(
    ("custom_id", "model", "index"),
    [
        ("MJ::JOB::upsample::2::abc", "mj_upscale", 2),
        ("MJ::JOB::variation::3::abc", "mj_variation", 3),
        ("MJ::JOB::low_variation::1::abc::SOLO", "mj_low_variation", 1),
        ("MJ::JOB::high_variation::1::abc::SOLO", "mj_high_variation", 1),
        ("MJ::JOB::pan_left::1::abc::SOLO", "mj_pan", 1),
        ("MJ::JOB::reroll::0::abc::SOLO", "mj_reroll", 1),
        ("MJ::Outpaint::50::1::abc::SOLO", "mj_zoom", 1),
        ("MJ::CustomZoom::abc", "mj_custom_zoom", 1),
        ("MJ::Inpaint::1::abc::SOLO", "mj_inpaint", 1),
    ],
)
def test_custom_ids_decode_as_new_api_decodes_them(custom_id: str, model: str, index: int) -> None:
    assert model_of_custom_id(custom_id) == (model, index)
    request = _decode("action", {"taskId": "task_1", "customId": custom_id})
    assert (request.model, request.custom_id, request.parent_task_id) == (model, custom_id, "task_1")


@pytest.mark.parametrize("custom_id", ["MJ::JOB::bogus::1::abc", "nothing", "MJ::", "MJ::Show::1"])
def test_an_unknown_custom_id_is_a_code_4(custom_id: str) -> None:
    with pytest.raises(GatewayError) as caught:
        _decode("action", {"taskId": "t", "customId": custom_id})
    status, body = mj_error(caught.value)
    assert status == 400 and orjson.loads(body)["code"] == 4 and "unknown action" in orjson.loads(body)["description"]


def test_each_submit_has_its_model_and_fields() -> None:
    imagine = _decode("imagine", {"prompt": "a fox", "base64Array": [PNG], "state": "s", "notifyHook": "https://h"})
    assert (imagine.kind, imagine.model, imagine.action, imagine.prompt) == (TaskKind.MIDJOURNEY, "mj_imagine",
                                                                            "imagine", "a fox")  # fmt: skip
    assert imagine.client_ref == "s" and imagine.callback_url == "https://h" and len(imagine.images) == 1
    assert _decode("blend", {"base64Array": [PNG] * 3, "dimensions": "PORTRAIT"}).aspect_ratio == "2:3"
    assert _decode("change", {"taskId": "t", "action": "REROLL"}).model == "mj_reroll"
    simple = _decode("simple-change", {"content": "t V3"})
    assert (simple.model, simple.parent_task_id, simple.change) == ("mj_variation", "t", "V3")
    assert _decode("modal", {"taskId": "t", "maskBase64": PNG}).mask is not None
    models = {
        "describe": {"base64": PNG},
        "shorten": {"prompt": "p"},
        "modal": {"taskId": "t"},
        "edits": {"prompt": "p", "image": PNG},
        "video": {"image": PNG},
        "swap_face": {"sourceBase64": PNG, "targetBase64": PNG},
        "upload-discord-images": {"base64Array": [PNG]},
    }
    expected = {"describe": "mj_describe", "shorten": "mj_shorten", "modal": "mj_modal", "edits": "mj_edits",
                "video": "mj_video", "swap_face": "swap_face", "upload-discord-images": "mj_upload"}  # fmt: skip
    assert {action: _decode(action, body).model for action, body in models.items()} == expected
    assert set(MJ_ACTIONS) == {"imagine", "blend", "change", "simple-change", "action", *models}


@pytest.mark.parametrize(
    ("action", "body", "param"),
    [
        ("imagine", {}, "prompt"),
        ("imagine", {"prompt": 3}, "prompt"),
        ("blend", {"base64Array": [PNG]}, "base64Array"),
        ("blend", {"base64Array": [PNG] * 6}, "base64Array"),
        ("describe", {"base64": "not an image"}, "base64"),
        ("change", {"taskId": "t", "action": "UPSCALE"}, "index"),
        ("simple-change", {"content": "t X1"}, "content"),
        ("video", {}, "image"),
        ("swap_face", {"sourceBase64": PNG}, "targetBase64"),
    ],
)
def test_bad_bodies_name_the_field(action: str, body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        _decode(action, body)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST and caught.value.param == param


def test_error_codes_by_kind() -> None:
    def shown(error: GatewayError) -> tuple[int, int]:
        status, body = mj_error(error)
        parsed = orjson.loads(body)
        assert set(parsed) == {"code", "description", "result", "properties"} and parsed["result"] is None
        return status, parsed["code"]

    assert shown(GatewayError(ErrorKind.INVALID_REQUEST, "banned", code="24")) == (400, 24)
    assert shown(GatewayError(ErrorKind.RATE_LIMIT, "slow down")) == (429, 23)
    assert shown(GatewayError(ErrorKind.UPSTREAM, "proxy down")) == (502, 9)
    assert shown(GatewayError(ErrorKind.AUTHENTICATION, "who")) == (401, 4)
    assert shown(GatewayError(ErrorKind.NOT_FOUND, "none")) == (404, 4)


def _view(**fields: Any) -> TaskView:
    base: dict[str, Any] = {"id": "task_1", "kind": TaskKind.MIDJOURNEY, "model": "mj_upscale",
                            "status": TaskStatus.RUNNING, "created_at": 1700000000, "prompt": "a fox"}  # fmt: skip
    return TaskView(**(base | fields))


def test_the_task_object() -> None:
    waiting = mj_task(_view(vendor_status="MODAL", progress=0, updated_at=1700000005))
    assert waiting["status"] == "MODAL" and waiting["description"] == "Waiting for window confirm"
    assert waiting["action"] == "UPSCALE" and waiting["imageUrl"] == "" and waiting["finishTime"] is None
    buttons = [{"customId": "MJ::JOB::variation::1::h", "label": "V1", "emoji": "", "style": 2, "type": 2}]
    done = mj_task(_view(status=TaskStatus.SUCCEEDED, completed_at=1700000009, client_ref="s",
                         outputs=[ViewOutput(kind="image", url="https://gw/x.png")],
                         details={"buttons": buttons, "final_prompt": "a fox --v 6"}))  # fmt: skip
    assert done["status"] == "SUCCESS" and done["progress"] == "100%" and done["imageUrl"] == "https://gw/x.png"
    assert done["buttons"] == buttons and done["properties"] == {"finalPrompt": "a fox --v 6"} and done["state"] == "s"
    assert done["submitTime"] == 1700000000000 and done["finishTime"] == 1700000009000
    failed = mj_task(_view(status=TaskStatus.FAILED, error_message="banned", model="swap_face"))
    assert (failed["status"], failed["failReason"], failed["action"]) == ("FAILURE", "banned", "SWAP_FACE")
    created = orjson.loads(MJ_SUBMITS["action"].encode_created(_view(vendor_status="MODAL"))[1])
    assert created["code"] == 21 and created["result"] == "task_1"
    assert orjson.loads(MJ_SUBMITS["imagine"].encode_created(_view(status=TaskStatus.QUEUED))[1])["code"] == 1


def test_a_webhook_carries_the_task_object() -> None:
    assert DIALECTS["midjourney"] is MJ_SUBMITS["imagine"]
    view = _view(status=TaskStatus.SUCCEEDED, outputs=[ViewOutput(kind="image", url="/v1/videos/task_1/content")])
    stored = {"type": "task.succeeded", "id": "evt_1", "created_at": 1, "dialect": "midjourney",
              "task": msgspec.to_builtins(view)}  # fmt: skip
    event = orjson.loads(render(orjson.dumps(stored).decode(), lambda path: "https://gw.example.com" + path))
    assert event["dialect"] == "midjourney" and event["data"]["status"] == "SUCCESS"
    assert event["data"]["imageUrl"] == "https://gw.example.com/v1/videos/task_1/content"
