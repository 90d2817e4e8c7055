"""OpenAPI 3.1 documents generated from the route table: ``GET /openapi.json`` and ``GET /admin/openapi.json``.

Each ``Route`` gives its operation: method, path (``{name:path}`` written ``{name}``), summary, path and
query parameters, the security scheme of its ``Auth`` kind, the request and answer schemas of its
``RouteDoc`` (msgspec Structs, via ``msgspec.json.schema_components``; a plain JSON object where the
body is a vendor's own format), and the error schema of its protocol.  The error schema is read off the
route's own ``ErrorEncoder`` (two sample errors encoded and described), so it cannot drift from what
the route sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import msgspec
import orjson

from omnirouter.http.routes import (
    Auth,
    ErrorEncoder,
    FormField,
    Route,
    RouteKind,
    openapi_path,
    path_parameters,
)
from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["SECURITY", "openapi_document", "operation_id"]

_REF = "#/components/schemas/{name}"
_QUERY_KINDS = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "date-time": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
}
_OBJECT: dict[str, Any] = {"type": "object"}
_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "a client key"},
    "xApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "a client key"},
    "xGoogApiKey": {"type": "apiKey", "in": "header", "name": "x-goog-api-key", "description": "a client key"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "api-key", "description": "a client key"},
    "keyQuery": {"type": "apiKey", "in": "query", "name": "key", "description": "a client key"},
    "adminKey": {"type": "http", "scheme": "bearer", "description": "the admin key"},
    "consoleSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "omnirouter_console",
        "description": "a user's console session (POST /dashboard/api/session with a user name and password)",
    },
}
_CLIENT: list[dict[str, list[str]]] = [
    {"bearerKey": []},
    {"xApiKey": []},
    {"xGoogApiKey": []},
    {"apiKeyHeader": []},
    {"keyQuery": []},
]
SECURITY: dict[Auth, list[dict[str, list[str]]]] = {
    Auth.NONE: [],
    Auth.CLIENT_KEY: _CLIENT,
    Auth.KEY_HOLDER: _CLIENT,
    Auth.ADMIN_KEY: [{"adminKey": []}],
    Auth.USER_SESSION: [{"consoleSession": []}],
}
"""The security requirement of each auth kind (any one of a client key's ways is enough)."""

_SAMPLES = (
    GatewayError(ErrorKind.NOT_FOUND, "sample", code="sample_code", param="sample_param"),
    GatewayError(ErrorKind.INVALID_REQUEST, "sample"),
)


def operation_id(route: Route) -> str:
    """``get_admin_keys_by_id``: the method and the path's words (``root`` for ``/``)."""
    words = re.sub(r"[^A-Za-z0-9]+", "_", re.sub(r"\{(\w+)(?::\w+)?\}", r"by_\1", route.path)).strip("_")
    return f"{route.method.lower()}_{words or 'root'}"


def _describe(samples: list[Any]) -> dict[str, Any]:
    """A JSON Schema that every sample satisfies: objects by property, scalars by type."""
    types = {_json_type(sample) for sample in samples}
    if types == {"object"}:
        keys = list(dict.fromkeys(key for sample in samples for key in sample))
        return {
            "type": "object",
            "properties": {key: _describe([s[key] for s in samples if key in s]) for key in keys},
            "required": [key for key in keys if all(key in sample for sample in samples)],
        }
    if "object" in types or "array" in types:
        return {"anyOf": [_describe([s for s in samples if _json_type(s) == kind]) for kind in sorted(types)]}
    return {"type": types.pop()} if len(types) == 1 else {"type": sorted(types)}


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "null" if value is None else "string"


def _error_schemas(encoder: ErrorEncoder, components: dict[str, Any]) -> dict[str, Any]:
    """The schema of ``encoder``'s errors (registered under ``<name>Error``), or ``anyOf`` its alternatives."""
    if encoder.alternatives:
        return {"anyOf": [_error_schemas(alternative, components) for alternative in encoder.alternatives]}
    name = f"{encoder.name}Error"
    if name not in components:
        bodies = [orjson.loads(encoder.encode({"type": "http", "headers": []}, error)[1]) for error in _SAMPLES]
        components[name] = {"title": name, **_describe(bodies)}
    return {"$ref": _REF.format(name=name)}


def _response_schema(route: Route, refs: dict[Any, Any]) -> dict[str, Any]:
    doc = route.doc
    item = refs[doc.response] if doc.response is not None else _OBJECT
    if doc.array:
        return {"type": "array", "items": item}
    if doc.many:
        return {
            "type": "object",
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": item}},
            "required": ["object", "data"],
        }
    return dict(item)


def _form_field(field: FormField) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": field.description}
    if field.kind in ("file", "files"):
        schema["contentMediaType"] = "application/octet-stream"
    if field.kind == "files":
        return {"type": "array", "items": schema, "description": field.description}
    return schema


def _body_schema(kind: str, route: Route, refs: dict[Any, Any]) -> dict[str, Any]:
    """The request body's schema in one content type: a form's fields, else the JSON body's type."""
    if kind == "multipart/form-data":
        form = route.doc.form
        return {
            "type": "object",
            "properties": {field.name: _form_field(field) for field in form},
            "required": [field.name for field in form if field.required],
        }
    return dict(refs[route.doc.body]) if route.doc.body is not None else dict(_OBJECT)


def _answer_schema(kind: str, route: Route, refs: dict[Any, Any]) -> dict[str, Any]:
    """The success answer's schema in one content type: JSON by ``response``, text as a string, else bytes."""
    if kind == "application/json":
        return _response_schema(route, refs)
    if kind.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "contentMediaType": kind}


def _parameters(route: Route) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name in path_parameters(route.path):
        kind = {"type": "integer"} if name == "id" else {"type": "string"}
        found.append({"name": name, "in": "path", "required": True, "schema": kind})
    for param in route.doc.query:
        schema: dict[str, Any] = dict(_QUERY_KINDS[param.kind])
        if param.enum is not None:
            schema["enum"] = list(param.enum)
        found.append({"name": param.name, "in": "query", "required": False, "description": param.description,
                      "schema": schema})  # fmt: skip
    return found


def _operation(route: Route, refs: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any]:
    doc = route.doc
    operation: dict[str, Any] = {"operationId": operation_id(route), "summary": route.summary}
    if doc.tag is not None:
        operation["tags"] = [doc.tag]
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if doc.body is not None or doc.form:
        body = {kind: {"schema": _body_schema(kind, route, refs)} for kind in doc.body_types}
        operation["requestBody"] = {"required": doc.body_required, "content": body}
    content = {kind: {"schema": _answer_schema(kind, route, refs)} for kind in doc.answers}
    if doc.streams:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    if route.kind is RouteKind.WEBSOCKET:
        responses: dict[str, Any] = {"101": {"description": "Switching Protocols (a WebSocket session)"}}
    elif route.method == "HEAD":
        responses = {str(doc.status): {"description": HTTPStatus(doc.status).phrase}}
    else:
        responses = {str(doc.status): {"description": HTTPStatus(doc.status).phrase, "content": content}}
    error = _error_schemas(route.errors, components)
    for status in doc.errors:
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": error}},
        }
    operation["responses"] = responses
    operation["security"] = SECURITY[route.auth]
    return operation


def openapi_document(routes: Iterable[Route], info: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (``info``: title, version, description)."""
    routes = list(routes)
    types: list[Any] = []
    for route in routes:
        for kind in (route.doc.body, route.doc.response):
            if kind is not None and kind not in types:
                types.append(kind)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    for schema in components.values():  # docstrings use reStructuredText literals; Markdown wants one backtick
        if isinstance(schema.get("description"), str):
            schema["description"] = schema["description"].replace("``", "`")
    refs = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = paths.setdefault(openapi_path(route.path), {})
        method = "get" if route.kind is RouteKind.WEBSOCKET else route.method.lower()
        if method in path:
            raise ValueError(f"two operations on {method.upper()} {route.path}")
        path[method] = _operation(route, refs, components)
    used = {name for route in routes for requirement in SECURITY[route.auth] for name in requirement}
    return {
        "openapi": "3.1.0",
        "info": info,
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {name: scheme for name, scheme in _SCHEMES.items() if name in used},
        },
    }
