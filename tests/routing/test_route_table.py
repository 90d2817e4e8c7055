"""The one route table (``http/routes.py``): exact lookups, templates, 404 vs 405, parameters, guards,
error encoding, WebSocket routes kept apart — without a server."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from omnirouter.http.asgi import Message, Receive, Scope, Send
from omnirouter.http.routes import (
    AUTH,
    PATH_PARAMS,
    Area,
    Auth,
    ErrorEncoder,
    Match,
    Miss,
    Route,
    RouteKind,
    RouteTable,
    openapi_path,
    path_parameters,
)
from omnirouter.ir import ErrorKind, GatewayError


def _encode(scope: Scope, error: GatewayError) -> tuple[int, bytes]:
    return error.status, orjson.dumps({"kind": error.kind.value, "message": error.message, "code": error.code})


ERRORS = ErrorEncoder("Test", _encode)
ADMIN = ErrorEncoder("TestAdmin", lambda scope, error: (error.status, orjson.dumps({"admin": error.message})))
DEFAULT = Area(
    "",
    ERRORS,
    lambda method, path: GatewayError(ErrorKind.NOT_FOUND, f"Unknown endpoint: {method} {path}"),
    lambda method, path, allowed: GatewayError(ErrorKind.INVALID_REQUEST, f"use {', '.join(allowed)}", status=405),
)
ADMIN_AREA = Area(
    "/admin/",
    ADMIN,
    lambda method, path: GatewayError(ErrorKind.NOT_FOUND, "no admin route"),
    lambda method, path, allowed: GatewayError(ErrorKind.INVALID_REQUEST, f"admin: {','.join(allowed)}", status=405),
    Auth.ADMIN_KEY,
)


def _handler(name: str) -> Any:
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        body = {"route": name, "params": scope.get(PATH_PARAMS), "auth": scope.get(AUTH)}
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": orjson.dumps(body)})

    return handle


def _admin_guard(scope: Scope) -> str:
    if dict(scope["headers"]).get(b"authorization") != b"Bearer admin":
        raise GatewayError(ErrorKind.AUTHENTICATION, "admin key needed")
    return "admin"


async def _boom(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("a bug")


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    raise GatewayError(ErrorKind.RATE_LIMIT, "slow down", retry_after=2.4)


def _table() -> RouteTable:
    routes = [
        Route("POST", "/v1/chat/completions", _handler("chat"), ERRORS, "chat", Auth.CLIENT_KEY, auth_in_handler=True),
        Route("GET", "/v1/videos/{id}/content", _handler("video"), ERRORS, "video", Auth.CLIENT_KEY),
        Route("GET", "/v1/videos/{id}", _handler("video-get"), ERRORS, "one video", Auth.CLIENT_KEY),
        Route("DELETE", "/v1/videos/{id}", _handler("video-delete"), ERRORS, "delete", Auth.CLIENT_KEY),
        Route("POST", "/v1beta/models/{model:path}:generateContent", _handler("gemini"), ERRORS, "gemini"),
        Route("GET", "/v1beta/models/{model:path}", _handler("model"), ERRORS, "model"),
        Route("GET", "/admin/keys", _handler("keys"), ADMIN, "keys", Auth.ADMIN_KEY),
        Route("GET", "/admin/keys/{id}", _handler("key"), ADMIN, "key", Auth.ADMIN_KEY),
        Route("GET", "/admin/prices/{model:path}", _handler("price"), ADMIN, "price", Auth.ADMIN_KEY),
        Route("GET", "/boom", _boom, ERRORS, "a bug"),
        Route("GET", "/slow", _refuse, ERRORS, "refused"),
        Route("GET", "/v1/realtime", _handler("realtime"), ERRORS, "realtime", kind=RouteKind.WEBSOCKET),
    ]
    guards = {Auth.CLIENT_KEY: lambda scope: "client", Auth.ADMIN_KEY: _admin_guard}
    return RouteTable(routes, default=DEFAULT, areas=[ADMIN_AREA], guards=guards)


async def _call(table: RouteTable, method: str, path: str, **headers: str) -> tuple[int, Any, list[Any]]:
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await table(scope, receive, send)
    return sent[0]["status"], orjson.loads(sent[1]["body"]), sent[0]["headers"]


def test_exact_paths_are_one_dict_entry_each_and_templates_are_not() -> None:
    table = _table()
    assert set(table.exact) == {
        ("POST", "/v1/chat/completions"),
        ("GET", "/admin/keys"),
        ("GET", "/boom"),
        ("GET", "/slow"),
    }
    assert set(table.direct) == {("POST", "/v1/chat/completions"), ("GET", "/boom"), ("GET", "/slow")}
    found = table.resolve("POST", "/v1/chat/completions")
    assert isinstance(found, Match) and found.route.summary == "chat" and found.params == {}
    assert found.guard is None  # auth_in_handler: the handler checks the key; the table does not twice


def test_templates_match_segments_and_decode_parameters() -> None:
    table = _table()
    found = table.resolve("GET", "/v1/videos/vid_42/content")
    assert isinstance(found, Match) and found.route.summary == "video" and found.params == {"id": "vid_42"}
    found = table.resolve("GET", "/v1/videos/vid 42")  # ASGI paths arrive percent-decoded
    assert isinstance(found, Match) and found.route.summary == "one video" and found.params == {"id": "vid 42"}
    assert isinstance(table.resolve("GET", "/v1/videos/a/b/content"), Miss)  # {id} is one segment
    found = table.resolve("POST", "/v1beta/models/tuned/my-model:generateContent")
    assert isinstance(found, Match) and found.params == {"model": "tuned/my-model"}
    found = table.resolve("GET", "/admin/prices/ollama/llama3:8b")  # {name:path} keeps slashes and colons
    assert isinstance(found, Match) and found.params == {"model": "ollama/llama3:8b"}
    found = table.resolve("GET", "/v1beta/models/gemini-2.5-flash")
    assert isinstance(found, Match) and found.route.summary == "model"


def test_unknown_path_is_404_and_known_path_with_another_method_405() -> None:
    table = _table()
    miss = table.resolve("GET", "/v1/nothing")
    assert isinstance(miss, Miss) and miss.allowed == () and miss.area is DEFAULT
    miss = table.resolve("GET", "/v1/chat/completions")
    assert isinstance(miss, Miss) and miss.allowed == ("POST",)
    miss = table.resolve("PUT", "/v1/videos/v1")
    assert isinstance(miss, Miss) and miss.allowed == ("DELETE", "GET")
    miss = table.resolve("POST", "/admin/keys/7")
    assert isinstance(miss, Miss) and miss.area is ADMIN_AREA and miss.allowed == ("GET",)
    assert isinstance(table.resolve("GET", "/v1/realtime"), Miss)  # a WebSocket route is no HTTP route


def test_websocket_routes_are_held_apart() -> None:
    table = _table()
    found = table.websocket("/v1/realtime")
    assert found is not None and found.route.kind is RouteKind.WEBSOCKET
    assert table.websocket("/v1/chat/completions") is None


def test_a_path_registered_twice_or_an_unguarded_auth_kind_is_refused() -> None:
    chat = Route("POST", "/v1/x", _handler("x"), ERRORS, "x")
    with pytest.raises(ValueError, match="twice"):
        RouteTable([chat, chat], default=DEFAULT)
    templated = Route("GET", "/v1/x/{id}", _handler("x"), ERRORS, "x")
    with pytest.raises(ValueError, match="twice"):
        RouteTable([templated, templated], default=DEFAULT)
    with pytest.raises(ValueError, match="no guard"):
        RouteTable([Route("GET", "/v1/y", _handler("y"), ERRORS, "y", Auth.KEY_HOLDER)], default=DEFAULT)
    socket = Route("GET", "/v1/s", _handler("s"), ERRORS, "s", Auth.ADMIN_KEY, kind=RouteKind.WEBSOCKET)
    with pytest.raises(ValueError, match="handshake"):
        RouteTable([socket], default=DEFAULT, guards={Auth.ADMIN_KEY: _admin_guard})
    with pytest.raises(ValueError, match="converter"):
        RouteTable([Route("GET", "/v1/z/{id:int}", _handler("z"), ERRORS, "z")], default=DEFAULT)


async def test_dispatch_serves_checks_and_encodes() -> None:
    table = _table()
    status, body, _ = await _call(table, "GET", "/v1/videos/v9/content")
    assert status == 200 and body == {"route": "video", "params": {"id": "v9"}, "auth": "client"}
    status, body, _ = await _call(table, "POST", "/v1/chat/completions")
    assert status == 200 and body["auth"] is None  # not checked by the table
    status, body, _ = await _call(table, "GET", "/v1/nothing")
    assert status == 404 and body == {"kind": "not_found", "message": "Unknown endpoint: GET /v1/nothing", "code": None}
    status, body, _ = await _call(table, "GET", "/v1/chat/completions")
    assert status == 405 and body["message"] == "use POST"


async def test_admin_area_checks_the_key_before_telling_what_exists() -> None:
    table = _table()
    for path in ("/admin/keys", "/admin/keys/1", "/admin/nothing"):
        status, body, _ = await _call(table, "GET", path)
        assert (status, body) == (401, {"admin": "admin key needed"}), path
    status, body, _ = await _call(table, "GET", "/admin/nothing", authorization="Bearer admin")
    assert (status, body) == (404, {"admin": "no admin route"})
    status, body, _ = await _call(table, "PUT", "/admin/keys/1", authorization="Bearer admin")
    assert (status, body) == (405, {"admin": "admin: GET"})
    status, body, _ = await _call(table, "GET", "/admin/keys/1", authorization="Bearer admin")
    assert status == 200 and body["auth"] == "admin" and body["params"] == {"id": "1"}


async def test_errors_and_bugs_are_answered_in_the_routes_shape() -> None:
    table = _table()
    status, body, headers = await _call(table, "GET", "/slow")
    assert status == 429 and body["kind"] == "rate_limit" and (b"retry-after", b"2") in headers
    status, body, _ = await _call(table, "GET", "/boom")
    assert status == 500 and body["kind"] == "internal"


async def test_a_guard_may_answer_with_an_awaitable() -> None:
    """A guard that needs I/O (a console session looked up in the database) returns a coroutine: the table
    awaits it on exact paths, templates and area misses alike, and encodes what it raises."""
    checked: list[str] = []

    def session_guard(scope: Scope) -> object:
        async def look_up() -> str:
            checked.append(scope["path"])
            if dict(scope["headers"]).get(b"cookie") != b"session=good":
                raise GatewayError(ErrorKind.PERMISSION, "no session", status=403)
            return "session"

        return look_up()

    routes = [
        Route("GET", "/admin/keys", _handler("keys"), ADMIN, "keys", Auth.ADMIN_KEY),
        Route("GET", "/admin/keys/{id}", _handler("key"), ADMIN, "key", Auth.ADMIN_KEY),
    ]
    table = RouteTable(routes, default=DEFAULT, areas=[ADMIN_AREA], guards={Auth.ADMIN_KEY: session_guard})
    status, body, _ = await _call(table, "GET", "/admin/keys", cookie="session=good")
    assert (status, body["auth"]) == (200, "session")
    status, body, _ = await _call(table, "GET", "/admin/keys/7", cookie="session=good")
    assert (status, body["auth"], body["params"]) == (200, "session", {"id": "7"})
    for path in ("/admin/keys", "/admin/keys/7", "/admin/nothing"):
        status, body, _ = await _call(table, "GET", path, cookie="session=bad")
        assert (status, body) == (403, {"admin": "no session"}), path
    status, body, _ = await _call(table, "GET", "/admin/nothing", cookie="session=good")
    assert (status, body) == (404, {"admin": "no admin route"})  # checked first, then told
    assert checked == ["/admin/keys", "/admin/keys/7"] * 2 + ["/admin/nothing"] * 2


def test_template_helpers() -> None:
    assert path_parameters("/v1beta/models/{model:path}:generateContent") == ["model"]
    assert openapi_path("/admin/prices/{model:path}") == "/admin/prices/{model}"
    assert path_parameters("/v1/videos/{id}/content") == ["id"]
