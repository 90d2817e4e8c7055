"""Gemini codec: error bodies both ways, and bad client input → INVALID_REQUEST only."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest
from google.genai import errors

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.gemini import GEMINI


@pytest.mark.parametrize(
    ("kind", "status", "expected_status", "name"),
    [
        (ErrorKind.INVALID_REQUEST, 400, 400, "INVALID_ARGUMENT"),
        (ErrorKind.PERMISSION, 403, 403, "PERMISSION_DENIED"),
        (ErrorKind.NOT_FOUND, 404, 404, "NOT_FOUND"),
        (ErrorKind.REQUEST_TOO_LARGE, 413, 400, "INVALID_ARGUMENT"),
        (ErrorKind.RATE_LIMIT, 429, 429, "RESOURCE_EXHAUSTED"),
        (ErrorKind.INTERNAL, 500, 500, "INTERNAL"),
        (ErrorKind.UPSTREAM, 502, 502, "UNAVAILABLE"),
        (ErrorKind.OVERLOADED, 503, 503, "UNAVAILABLE"),
        (ErrorKind.OVERLOADED, 529, 503, "UNAVAILABLE"),
        (ErrorKind.UPSTREAM_TIMEOUT, 504, 504, "DEADLINE_EXCEEDED"),
    ],
)
def test_encode_error(kind: ErrorKind, status: int, expected_status: int, name: str) -> None:
    code, body = GEMINI.encode_error(GatewayError(kind, "went wrong", status=status))
    assert code == expected_status
    assert orjson.loads(body) == {"error": {"code": expected_status, "message": "went wrong", "status": name}}


def test_authentication_looks_like_an_invalid_gemini_key() -> None:
    code, body = GEMINI.encode_error(GatewayError(ErrorKind.AUTHENTICATION, "API key not valid."))
    error = orjson.loads(body)["error"]
    assert code == 400 and error["status"] == "INVALID_ARGUMENT" and error["details"][0]["reason"] == "API_KEY_INVALID"
    sdk = errors.APIError(code, orjson.loads(body))
    assert sdk.code == 400 and sdk.status == "INVALID_ARGUMENT" and sdk.message == "API key not valid."


def test_retry_after_becomes_retry_info() -> None:
    _, body = GEMINI.encode_error(GatewayError(ErrorKind.RATE_LIMIT, "slow", retry_after=7.4))
    assert orjson.loads(body)["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
    ]


def test_decode_error() -> None:
    bad_key = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
        }
    }
    error = GEMINI.decode_error(400, orjson.dumps(bad_key))
    assert (error.kind, error.status, error.message) == (ErrorKind.AUTHENTICATION, 400, bad_key["error"]["message"])
    quota = [
        {
            "error": {
                "code": 429,
                "message": "Quota exceeded",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "38s"}],
            }
        }
    ]
    error = GEMINI.decode_error(429, orjson.dumps(quota))
    assert (error.kind, error.status, error.retry_after, error.code) == (
        ErrorKind.RATE_LIMIT,
        429,
        38.0,
        "RESOURCE_EXHAUSTED",
    )
    error = GEMINI.decode_error(503, b"<html>Service Unavailable</html>")
    assert (error.kind, error.status, error.message) == (ErrorKind.OVERLOADED, 503, "<html>Service Unavailable</html>")
    assert GEMINI.decode_error(500, b"").message == "upstream returned HTTP 500"
    assert GEMINI.decode_error(404, b'{"error": "no such model"}').kind is ErrorKind.NOT_FOUND


VALID: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "sys"}]},
    "contents": [
        {"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}]},
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "x"}}}]},
    ],
    "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {"temperature": 0.2, "stopSequences": ["x"], "thinkingConfig": {"thinkingBudget": 10}},
}


@pytest.mark.parametrize(
    ("mutate", "param"),
    [
        (lambda b: b.update(contents=[]), "contents"),
        (lambda b: b.update(contents="hi"), "contents"),
        (lambda b: b["contents"].append(3), "contents[3]"),
        (lambda b: b["contents"][0].update(role="system"), "contents[0].role"),
        (lambda b: b["contents"][0].update(parts=[]), "contents[0].parts"),
        (lambda b: b["contents"][0]["parts"].append("text"), "contents[0].parts[2]"),
        (lambda b: b["contents"][0]["parts"][0].update(text=5), "contents[0].parts[0].text"),
        (
            lambda b: b["contents"][0]["parts"][1]["inlineData"].pop("mimeType"),
            "contents[0].parts[1].inlineData.mimeType",
        ),
        (
            lambda b: b["contents"][1]["parts"][0]["functionCall"].update(args=[1]),
            "contents[1].parts[0].functionCall.args",
        ),
        (lambda b: b["contents"][1]["parts"][0]["functionCall"].pop("name"), "contents[1].parts[0].functionCall.name"),
        (lambda b: b["contents"][1]["parts"][0].update(thoughtSignature=7), "contents[1].parts[0].thoughtSignature"),
        (
            lambda b: b["contents"][2]["parts"][0]["functionResponse"].update(response="x"),
            "contents[2].parts[0].functionResponse.response",
        ),
        (lambda b: b["tools"][0]["functionDeclarations"][0].pop("name"), "tools[0].functionDeclarations[0].name"),
        (lambda b: b.update(tools={}), "tools"),
        (
            lambda b: b["toolConfig"]["functionCallingConfig"].update(mode="SOMETIMES"),
            "toolConfig.functionCallingConfig.mode",
        ),
        (lambda b: b["generationConfig"].update(temperature="hot"), "generationConfig.temperature"),
        (lambda b: b["generationConfig"].update(stopSequences="x"), "generationConfig.stopSequences"),
        (lambda b: b["generationConfig"].update(maxOutputTokens=1.5), "generationConfig.maxOutputTokens"),
        (
            lambda b: b["generationConfig"]["thinkingConfig"].update(thinkingBudget="lots"),
            "generationConfig.thinkingConfig.thinkingBudget",
        ),
        (lambda b: b.update(systemInstruction=[1]), "systemInstruction"),
    ],
)
def test_bad_input_is_invalid_request(mutate: Any, param: str) -> None:
    body = copy.deepcopy(VALID)
    GEMINI.decode_request(body)
    mutate(body)
    with pytest.raises(GatewayError) as raised:
        GEMINI.decode_request(body)
    assert raised.value.kind is ErrorKind.INVALID_REQUEST and raised.value.status == 400
    assert raised.value.param == param, raised.value.message


def test_random_mutations_never_raise_anything_else() -> None:
    rng = random.Random(11)
    junk: list[Any] = [None, 0, -1, 2.5, "", "x", True, [], [1], {}, {"a": 1}, [{}], {"text": 1}]

    def containers(node: Any, out: list[Any]) -> list[Any]:
        if isinstance(node, dict | list):
            out.append(node)
            for child in node.values() if isinstance(node, dict) else node:
                containers(child, out)
        return out

    for _ in range(400):
        body = copy.deepcopy(VALID)
        for _ in range(rng.randint(1, 3)):
            target = rng.choice(containers(body, []))
            if isinstance(target, dict) and target:
                target[rng.choice(list(target))] = copy.deepcopy(rng.choice(junk))
            elif isinstance(target, list) and target:
                target[rng.randrange(len(target))] = copy.deepcopy(rng.choice(junk))
        try:
            GEMINI.encode_request(GEMINI.decode_request(body))
        except GatewayError as error:
            assert error.kind is ErrorKind.INVALID_REQUEST
