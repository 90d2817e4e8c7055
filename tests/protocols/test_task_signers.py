"""Our request signers against the vendors' own SDKs: for the same credentials, clock, host, action and
payload, Tencent Cloud's ``tencentcloud-sdk-python-common`` and Volcengine's ``volcengine`` SDK make the
very ``Authorization`` header ours does (so a real vendor accepts what the mocks accept)."""

from __future__ import annotations

import datetime
import json
import types
from collections import OrderedDict
from urllib.parse import urlencode

import jwt
import pytest
from tencentcloud.common import abstract_client, credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

from omnirouter.ir.task import TaskRequest
from omnirouter.protocols.tasks.base import TaskTarget
from omnirouter.protocols.tasks.hunyuan import HUNYUAN_VIDEO
from omnirouter.protocols.tasks.jimeng import JIMENG_VIDEO
from omnirouter.protocols.tasks.signing import (
    KLING_TOKEN_REUSE,
    KLING_TOKEN_SECONDS,
    TC3_CONTENT_TYPE,
    KlingTokens,
    kling_jwt,
    tc3_authorization,
    volcengine_headers,
)

NOW = 1_765_000_000  # 2025-12-06T05:46:40Z
SECRET_ID, SECRET_KEY = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
PAYLOADS = [
    {"Prompt": "a red kite over the dunes", "Resolution": "720p"},
    {"JobId": "1387360157263040512"},
    {"Prompt": "雪中的狐狸 — a fox in the snow", "Image": {"Url": "https://example.com/a b.png"}},
]


def _tencent_sdk(
    monkeypatch: pytest.MonkeyPatch, action: str, params: dict[str, object], body: bytes | None = None
) -> tuple[str, bytes]:
    """The SDK's ``Authorization`` and body for ``action`` on ``vclm`` at ``NOW`` (its clock pinned; its JSON
    encoder made to write ``body`` when given, so it signs those very bytes)."""
    monkeypatch.setattr(abstract_client, "time", types.SimpleNamespace(time=lambda: NOW))
    if body is not None:
        monkeypatch.setattr(abstract_client, "json", types.SimpleNamespace(dumps=lambda _: body.decode()))
    profile = ClientProfile(httpProfile=HttpProfile(endpoint="vclm.tencentcloudapi.com"))
    client = CommonClient("vclm", "2024-05-23", credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou", profile)
    request = RequestInternal("vclm.tencentcloudapi.com", "POST", "/")
    client._build_req_with_tc3_signature(action, params, request)
    assert request.header["Content-Type"] == TC3_CONTENT_TYPE and request.header["X-TC-Timestamp"] == str(NOW)
    data = request.data.encode() if isinstance(request.data, str) else request.data
    return request.header["Authorization"], data


@pytest.mark.parametrize("params", PAYLOADS)
@pytest.mark.parametrize("action", ["SubmitHunyuanToVideoJob", "DescribeHunyuanToVideoJob"])
def test_tc3_matches_tencents_sdk(monkeypatch: pytest.MonkeyPatch, action: str, params: dict[str, object]) -> None:
    expected, payload = _tencent_sdk(monkeypatch, action, params)
    ours = tc3_authorization(
        SECRET_ID, SECRET_KEY, service="vclm", host="vclm.tencentcloudapi.com", path="/", payload=payload, now=NOW
    )
    assert ours == expected


def test_the_hunyuan_codecs_calls_carry_the_sdks_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    """The codec's own submit (its body bytes, clock and headers) signs as the SDK signs that body."""
    target = TaskTarget("hunyuan-video", {}, f"{SECRET_ID}|{SECRET_KEY}", "https://vclm.tencentcloudapi.com",
                        "omni-task_1", float(NOW))  # fmt: skip
    call = HUNYUAN_VIDEO.submit(TaskRequest(model="m", prompt="a red kite over the dunes"), target)
    assert call.content_type == TC3_CONTENT_TYPE and call.headers["X-TC-Timestamp"] == str(NOW)
    expected = tc3_authorization(
        SECRET_ID, SECRET_KEY, service="vclm", host="vclm.tencentcloudapi.com", path="/", payload=call.body, now=NOW
    )
    assert call.headers["Authorization"] == expected
    sdk, sdk_body = _tencent_sdk(monkeypatch, "SubmitHunyuanToVideoJob", json.loads(call.body), call.body)
    assert sdk_body == call.body and sdk == expected
    assert SECRET_KEY not in call.headers["Authorization"]


def _volcengine_sdk(method: str, host: str, path: str, query: dict[str, str], body: bytes, content_type: str) -> str:
    param = SignParam()
    param.set_method(method)
    param.set_host(host)
    param.set_path(path)
    param.set_query(OrderedDict(query))
    param.set_body(body)
    param.set_header_list(OrderedDict([("Content-Type", content_type), ("Host", host)]))
    param.set_date(datetime.datetime.fromtimestamp(NOW, datetime.UTC))
    return str(SignerV4.sign_only(param, Credentials(SECRET_ID, SECRET_KEY, "cv", "cn-north-1")).authorization)


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ({"Action": "CVSync2AsyncSubmitTask", "Version": "2022-08-31"}, b'{"req_key":"jimeng_t2v_v30","prompt":"p"}'),
        ({"Action": "CVSync2AsyncGetResult", "Version": "2022-08-31"}, b'{"req_key":"jimeng_t2v_v30","task_id":"7"}'),
        ({"Version": "2022-08-31", "Action": "A b+c/d~e"}, "雪 — snow".encode()),
        ({}, b""),
    ],
)
def test_volcengine_v4_matches_volcengines_sdk(query: dict[str, str], body: bytes) -> None:
    ours = volcengine_headers(
        access_key=SECRET_ID, secret_key=SECRET_KEY, method="POST", host="visual.volcengineapi.com", path="/",
        query=query, body=body, content_type="application/json", now=NOW,
    )  # fmt: skip
    expected = _volcengine_sdk("POST", "visual.volcengineapi.com", "/", query, body, "application/json")
    assert ours["Authorization"] == expected
    assert ours["X-Date"] == "20251206T054640Z"


def test_the_jimeng_codecs_submit_carries_the_sdks_signature() -> None:
    key = f"{SECRET_ID}|{SECRET_KEY}"
    target = TaskTarget("jimeng_t2v_v30", {}, key, "https://visual.volcengineapi.com", "omni-task_2", float(NOW))
    call = JIMENG_VIDEO.submit(TaskRequest(model="m", prompt="a fox in the snow"), target)
    path, _, raw_query = call.path.partition("?")
    query = dict(pair.split("=", 1) for pair in raw_query.split("&")) if raw_query else {}
    assert urlencode(query) == raw_query
    expected = _volcengine_sdk("POST", "visual.volcengineapi.com", path or "/", query, call.body, call.content_type)
    assert call.headers["Authorization"] == expected


SECRET_A, SECRET_B = "kling-secret-a-" + "0" * 32, "kling-secret-b-" + "0" * 32


def test_kling_tokens_are_reused_for_five_minutes_per_pair_and_always_valid() -> None:
    tokens = KlingTokens()
    now = 1_800_000_000.0
    first = tokens.token("ak", SECRET_A, now)
    assert first == kling_jwt("ak", SECRET_A, now)
    assert tokens.token("ak", SECRET_A, now + KLING_TOKEN_REUSE - 1) == first  # reused
    assert tokens.token("ak2", SECRET_A, now + 1) != first  # another pair: its own token
    assert tokens.token("ak", SECRET_B, now + 1) != first
    later = now + KLING_TOKEN_REUSE
    fresh = tokens.token("ak", SECRET_A, later)
    assert fresh == kling_jwt("ak", SECRET_A, later)  # signed anew once the reuse window passed
    assert tokens.token("ak", SECRET_A, later - 10) == kling_jwt("ak", SECRET_A, later - 10)  # clock back
    for at in (now, now + KLING_TOKEN_REUSE - 1):  # a reused token still has 25 of its 30 minutes
        options = {"verify_exp": False, "verify_nbf": False}
        claims = jwt.decode(first, SECRET_A, algorithms=["HS256"], options=options)
        assert claims["nbf"] <= at and claims["exp"] - at >= KLING_TOKEN_SECONDS - KLING_TOKEN_REUSE
