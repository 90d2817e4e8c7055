"""The Omni-Image codecs, pure: the ``omni_image`` dialect (decode, budget, task object, status names), the
FLUX and wanx image task codecs (submit bodies shared with the synchronous codecs, poll statuses mapped,
classify-don't-guess) and the synchronous vendors' ``InlineImageTask`` (nothing to find: the reconciler
refunds), each registered under ``image_task`` for its provider."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest

from omnirouter.ir import GatewayError
from omnirouter.ir.task import TaskKind, TaskRequest, TaskStatus
from omnirouter.protocols.media.base import Answer
from omnirouter.protocols.tasks.base import TaskTarget, TaskView, ViewOutput
from omnirouter.protocols.tasks.image_vendors import BFL_IMAGE_TASK, WANX_IMAGE_TASK, InlineImageTask
from omnirouter.protocols.tasks.omni_image import OMNI_IMAGE, image_request, task_object, vendor_native
from omnirouter.providers.capabilities import Capability
from omnirouter.providers.kinds import ProviderKind
from omnirouter.providers.registry import provider_spec


def _target(model: str, base_url: str = "https://api.bfl.ai") -> TaskTarget:
    return TaskTarget(model, {}, "sk-up", base_url, "omni-task_1", 1_700_000_000.0)


def _answer(obj: Any) -> Answer:
    return Answer(200, {"content-type": "application/json"}, orjson.dumps(obj))


def _create(**body: Any) -> Any:
    return OMNI_IMAGE.decode_create(orjson.dumps({"prompt": "a cat", **body}), "application/json", None)


def test_each_image_vendor_is_registered_as_an_image_task() -> None:
    for kind in (ProviderKind.OPENAI, ProviderKind.GEMINI, ProviderKind.ARK):
        vendor = provider_spec(kind).tasks[Capability.IMAGE_TASK]
        assert isinstance(vendor, InlineImageTask) and vendor.kind is TaskKind.IMAGE
        assert vendor.upstream is provider_spec(kind).media[Capability.IMAGE_GENERATION]
        assert vendor.find(_target("m")) is None  # no task at the vendor: the reconciler refunds
    assert provider_spec(ProviderKind.BFL).tasks[Capability.IMAGE_TASK] is BFL_IMAGE_TASK
    assert provider_spec(ProviderKind.DASHSCOPE).tasks[Capability.IMAGE_TASK] is WANX_IMAGE_TASK


def test_the_dialect_keeps_the_whole_image_request_and_reserves_as_the_sync_call() -> None:
    request = _create(model="Nano-Banana2", resolution="4K", aspect_ratio="16:9", n=2, quality="low",
                      images=["https://example.com/a.png"], input_region="Mainland",
                      response_format="b64_json")  # fmt: skip
    assert request.kind is TaskKind.IMAGE and (request.n, request.resolution) == (2, "4K")
    image = image_request(orjson_roundtrip(request))
    assert (image.quality, image.input_region, image.response_format) == ("low", "Mainland", "b64_json")
    assert [one.url for one in image.images] == ["https://example.com/a.png"]
    budget = OMNI_IMAGE.budget(request)
    assert budget.images == 2 and budget.input_tokens > 0
    assert OMNI_IMAGE.budget(_create(model="m")).images == 4  # no n: as the synchronous route reserves


def orjson_roundtrip(request: TaskRequest) -> TaskRequest:
    """The request as the task row keeps it (JSON) and reads it back."""
    return msgspec.json.decode(msgspec.json.encode(request), type=TaskRequest)


@pytest.mark.parametrize(
    ("body", "param"),
    [({"model": "m", "input_region": "Moon"}, "input_region"), ({"model": "m", "n": 11}, "n"), ({}, "model")],
)
def test_bad_input_names_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        _create(**body)
    assert caught.value.param == param and caught.value.status == 400
    status, payload = OMNI_IMAGE.encode_error(caught.value)
    assert status == 400 and orjson.loads(payload)["error"]["param"] == param


def test_the_task_object() -> None:
    view = TaskView(id="task_1", kind=TaskKind.IMAGE, model="m", status=TaskStatus.RUNNING, created_at=10)
    shown = orjson.loads(OMNI_IMAGE.encode_task(view)[1])
    assert shown == {"id": "task_1", "task_id": "task_1", "object": "image.generation.task", "model": "m",
                     "status": "in_progress", "progress": 0, "created_at": 10, "completed_at": None,
                     "error": None}  # fmt: skip
    view.status, view.outputs = TaskStatus.SUCCEEDED, [ViewOutput(kind="image", url="https://gw/a")]
    assert task_object(view)["data"] == [{"url": "https://gw/a"}]
    assert task_object(view, ["QUJD"])["data"] == [{"b64_json": "QUJD"}]
    view.status, view.error_code, view.error_message = TaskStatus.CANCELLED, "cancelled", "cancelled"
    assert task_object(view)["status"] == "failed" and task_object(view)["error"]["code"] == "cancelled"
    assert [task_object(TaskView(id="t", kind=TaskKind.IMAGE, model="m", status=s, created_at=0))["status"]
            for s in (TaskStatus.PENDING, TaskStatus.QUEUED)] == ["queued", "queued"]  # fmt: skip


def test_flux_submit_poll_and_statuses() -> None:
    request = _create(model="flux", aspect_ratio="16:9", images=["https://example.com/a.png"])
    call = BFL_IMAGE_TASK.submit(request, _target("flux-kontext-pro"))
    assert call.path == "/v1/flux-kontext-pro"
    assert orjson.loads(call.body) == {"prompt": "a cat", "input_image": "https://example.com/a.png",
                                       "aspect_ratio": "16:9"}  # fmt: skip
    with pytest.raises(GatewayError) as caught:
        BFL_IMAGE_TASK.submit(_create(model="flux", n=2), _target("flux-kontext-pro"))
    assert caught.value.param == "n"
    # A regional polling URL on the vendor's own site is kept as the upstream id and polled with the key.
    regional = "https://api.eu.bfl.ai/v1/get_result?id=abc"
    submitted = BFL_IMAGE_TASK.parse_submit(_answer({"id": "abc", "polling_url": regional}), request, _target("f"))
    assert submitted.upstream_id == regional
    poll = BFL_IMAGE_TASK.poll(submitted.upstream_id, _target("f"))
    assert (poll.path, poll.method, poll.auth) == (regional, "GET", True)
    foreign = BFL_IMAGE_TASK.poll("https://elsewhere.example/r?id=abc", _target("f"))
    assert foreign.auth is False  # the key never goes to another host
    plain = BFL_IMAGE_TASK.parse_submit(_answer({"id": "abc"}), request, _target("f"))
    assert plain.upstream_id == "abc" and BFL_IMAGE_TASK.poll("abc", _target("f")).path == "/v1/get_result?id=abc"
    running = BFL_IMAGE_TASK.parse_poll(_answer({"id": "abc", "status": "Pending", "progress": 0.4}), _target("f"),
                                        None)  # fmt: skip
    assert (running.status, running.progress) == (TaskStatus.RUNNING, 40)
    unknown = BFL_IMAGE_TASK.parse_poll(_answer({"id": "abc", "status": "Task not found"}), _target("f"), None)
    assert unknown.status is TaskStatus.RUNNING  # classify, don't guess: polled again until the deadline
    ready = BFL_IMAGE_TASK.parse_poll(_answer({"status": "Ready", "result": {"sample": "https://d/x.png"}}),
                                      _target("f"), None)  # fmt: skip
    assert ready.status is TaskStatus.SUCCEEDED and [o.url for o in ready.outputs] == ["https://d/x.png"]
    assert ready.usage is not None and ready.usage.images == 1
    moderated = BFL_IMAGE_TASK.parse_poll(_answer({"status": "Content Moderated", "details": {"r": "x"}}),
                                          _target("f"), None)  # fmt: skip
    assert moderated.status is TaskStatus.FAILED and moderated.failure_code == "content_moderated"


def test_wanx_submit_poll_and_statuses() -> None:
    request = _create(model="wanx", n=2, size="1024x768")
    call = WANX_IMAGE_TASK.submit(request, _target("wanx2.1-t2i-turbo", "https://dashscope.aliyuncs.com"))
    assert call.path == "/api/v1/services/aigc/text2image/image-synthesis"
    assert call.headers["X-DashScope-Async"] == "enable"
    assert orjson.loads(call.body) == {"model": "wanx2.1-t2i-turbo", "input": {"prompt": "a cat"},
                                       "parameters": {"n": 2, "size": "1024*768"}}  # fmt: skip
    target = _target("w", "https://dashscope.aliyuncs.com")
    submitted = WANX_IMAGE_TASK.parse_submit(_answer({"output": {"task_id": "t-1", "task_status": "PENDING"}}),
                                             request, target)  # fmt: skip
    assert submitted.upstream_id == "t-1" and WANX_IMAGE_TASK.poll("t-1", target).path == "/api/v1/tasks/t-1"
    done = WANX_IMAGE_TASK.parse_poll(
        _answer({"output": {"task_status": "SUCCEEDED", "results": [{"url": "https://o/1.png"}, {"url": "https://o/2.png"}]},
                 "usage": {"image_count": 2}}), target, None)  # fmt: skip
    assert done.status is TaskStatus.SUCCEEDED and len(done.outputs) == 2
    assert done.usage is not None and done.usage.images == 2
    failed = WANX_IMAGE_TASK.parse_poll(_answer({"output": {"task_status": "FAILED", "code": "DataInspectionFailed",
                                                            "message": "no"}}), target, None)  # fmt: skip
    assert failed.status is TaskStatus.FAILED and failed.failure_code == "DataInspectionFailed"
    for raw in ("UNKNOWN", "RUNNING", "SOMETHING_NEW"):
        assert WANX_IMAGE_TASK.parse_poll(_answer({"output": {"task_status": raw}}), target, None).status is (
            TaskStatus.RUNNING
        )
    with pytest.raises(GatewayError):  # an error inside a 200: transient for the poller, never a refund
        WANX_IMAGE_TASK.parse_poll(_answer({"code": "Throttling", "message": "slow down"}), target, None)
    with pytest.raises(GatewayError) as caught:
        WANX_IMAGE_TASK.submit(_create(model="wanx", images=["https://example.com/a.png"]), target)
    assert caught.value.param == "image"


def test_codecs_that_merge_extra_get_only_the_clients_own_fields() -> None:
    request = _create(model="Kling:3.0-omni", n=3, response_format="b64_json", watermark_info={"enabled": False})
    native = vendor_native(request)
    assert native.extra == {"watermark_info": {"enabled": False}}  # no carried image request reaches Kling
    assert (native.n, native.answer_format, native.prompt) == (3, "b64_json", "a cat")
    assert vendor_native(_create(model="m")).extra == {}
