"""The OpenAPI 3.1 documents generated from the route table: valid, and covering every route.

``GET /openapi.json`` (no key) holds every route but the admin API's; ``GET /admin/openapi.json`` (admin
key) holds the admin routes.  The tests loop over the table, so a route added without a document entry
fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

from omnirouter.api import GatewayApp
from omnirouter.api.admin_router import admin_document
from omnirouter.api.openapi import SECURITY, operation_id
from omnirouter.http.routes import Auth, RouteKind, openapi_path, path_parameters
from tests.helpers.admin_client import ADMIN_KEY
from tests.helpers.gateway_harness import make_config, running_gateway


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> GatewayApp:
    path: Path = tmp_path_factory.mktemp("openapi") / "gw.db"
    return GatewayApp(make_config("http://127.0.0.1:9", path, admin_key=ADMIN_KEY))


def _documents(app: GatewayApp) -> tuple[dict[str, Any], dict[str, Any]]:
    admin_routes = [route for route in app.routes.routes if route.auth is Auth.ADMIN_KEY]
    return app.public_document(), admin_document(admin_routes)


def test_documents_are_valid_openapi_3_1(app: GatewayApp) -> None:
    for document in _documents(app):
        assert document["openapi"] == "3.1.0"
        validate(document, cls=OpenAPIV31SpecValidator)


def test_every_route_of_the_table_is_documented(app: GatewayApp) -> None:
    public, admin = _documents(app)
    ids: set[str] = set()
    for route in app.routes.routes:
        document = admin if route.auth is Auth.ADMIN_KEY else public
        other = public if document is admin else admin
        method = "get" if route.kind is RouteKind.WEBSOCKET else route.method.lower()
        path = openapi_path(route.path)
        operation = document["paths"][path][method]
        assert method not in other["paths"].get(path, {}), f"{route.method} {route.path} is in both documents"
        assert operation["operationId"] == operation_id(route) and operation["operationId"] not in ids
        ids.add(operation["operationId"])
        assert operation["summary"] == route.summary
        assert operation["security"] == SECURITY[route.auth]
        assert any(code.startswith(("1", "2")) for code in operation["responses"]), route.path
        documented = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        assert documented == path_parameters(route.path), route.path
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert "$ref" in schema or "anyOf" in schema, (route.path, code)
    assert len(ids) == len(app.routes.routes) >= 50


def test_error_schemas_are_read_off_the_encoders(app: GatewayApp) -> None:
    public, admin = _documents(app)
    schemas = public["components"]["schemas"]
    openai = schemas["OpenAIError"]["properties"]["error"]
    assert openai["required"] == ["message", "type", "param", "code"]
    assert openai["properties"]["param"]["type"] == ["null", "string"]
    assert "AnthropicError" in schemas and "GeminiError" in schemas
    models = public["paths"]["/v1/models"]["get"]["responses"]["401"]["content"]["application/json"]["schema"]
    assert len(models["anyOf"]) == 3  # the protocol the headers name
    assert admin["components"]["schemas"]["AdminError"]["required"] == ["error"]
    assert public["paths"]["/health"]["get"]["security"] == []
    assert set(public["components"]["securitySchemes"]) >= {"bearerKey", "xApiKey", "xGoogApiKey", "keyQuery"}
    assert "adminKey" not in public["components"]["securitySchemes"]


async def test_documents_are_served(tmp_path: Path) -> None:
    config = make_config("http://127.0.0.1:9", tmp_path / "gw.db", admin_key=ADMIN_KEY)
    async with running_gateway(config) as gateway, aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.url}/openapi.json") as response:
            assert response.status == 200
            public = await response.json()
        assert "/v1beta/models/{model}:generateContent" in public["paths"]
        assert not any(path.startswith("/admin") for path in public["paths"])
        async with session.get(f"{gateway.url}/admin/openapi.json") as response:
            assert response.status == 401
        headers = {"authorization": f"Bearer {ADMIN_KEY}"}
        async with session.get(f"{gateway.url}/admin/openapi.json", headers=headers) as response:
            assert response.status == 200
            admin = await response.json()
        assert "/admin/keys/{id}" in admin["paths"] and "/v1/chat/completions" not in admin["paths"]
        validate(admin, cls=OpenAPIV31SpecValidator)


def test_media_routes_describe_their_content_types(app: GatewayApp) -> None:
    paths = app.public_document()["paths"]
    for path in ("/v1/audio/transcriptions", "/v1/audio/translations", "/audio/transcriptions"):
        operation = paths[path]["post"]
        body = operation["requestBody"]["content"]
        assert list(body) == ["multipart/form-data"], path
        form = body["multipart/form-data"]["schema"]
        assert form["required"] == ["file", "model"]
        assert form["properties"]["file"]["contentMediaType"] == "application/octet-stream"
        answers = operation["responses"]["200"]["content"]
        assert answers["text/plain"]["schema"] == {"type": "string"}
        assert "application/json" in answers
    assert "text/event-stream" in paths["/v1/audio/transcriptions"]["post"]["responses"]["200"]["content"]
    edits = paths["/v1/images/edits"]["post"]["requestBody"]["content"]
    assert set(edits) == {"multipart/form-data", "application/json"}
    image = edits["multipart/form-data"]["schema"]["properties"]["image"]
    assert image["type"] == "array" and image["items"]["contentMediaType"] == "application/octet-stream"
    assert "multipart/form-data" not in paths["/v1/images/generations"]["post"]["requestBody"]["content"]
    speech = paths["/v1/audio/speech"]["post"]
    assert list(speech["requestBody"]["content"]) == ["application/json"]
    answers = speech["responses"]["200"]["content"]
    assert {"audio/mpeg", "audio/wav", "audio/pcm", "text/event-stream"} <= set(answers)
    assert "application/json" not in answers
    assert answers["audio/mpeg"]["schema"] == {"type": "string", "contentMediaType": "audio/mpeg"}
    for path in ("/v1/embeddings", "/v1/rerank", "/v2/rerank", "/v1/moderations", "/v1/images/generations"):
        operation = paths[path]["post"]
        assert list(operation["requestBody"]["content"]) == ["application/json"], path
        assert list(operation["responses"]["200"]["content"]) == ["application/json"], path
