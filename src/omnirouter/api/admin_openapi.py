"""``GET /admin/openapi.json``: an OpenAPI 3.1 description of every admin route.

Generated from the route table (``AdminRoute``) and the msgspec Structs that decode the request bodies
and encode the answers, so the document cannot drift from what the routes accept and return.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import msgspec

from omnirouter.api.admin_common import AdminRoute

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{name}"
_PARAM = re.compile(r"\{(\w+)(?::path)?\}")
_ERROR = {
    "title": "Error",
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "code": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "required": ["message", "type", "param", "code"],
        }
    },
    "required": ["error"],
}
_QUERY_KINDS = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "date-time": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
}


def _operation_id(route: AdminRoute) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", _PARAM.sub(r"by_\1", route.path)).strip("_")
    return f"{route.method.lower()}_{words}"


def _response_schema(route: AdminRoute, refs: dict[Any, Any]) -> dict[str, Any]:
    item = refs[route.response] if route.response is not None else {"type": "object"}
    if route.array:
        return {"type": "array", "items": item}
    if route.many:
        return {
            "type": "object",
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": item}},
            "required": ["object", "data"],
        }
    return dict(item)


def _parameters(route: AdminRoute) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name in _PARAM.findall(route.path):
        kind = {"type": "integer"} if name == "id" else {"type": "string"}
        found.append({"name": name, "in": "path", "required": True, "schema": kind})
    for param in route.query:
        schema: dict[str, Any] = dict(_QUERY_KINDS[param.kind])
        if param.enum is not None:
            schema["enum"] = list(param.enum)
        found.append({"name": param.name, "in": "query", "required": False, "description": param.description,
                      "schema": schema})  # fmt: skip
    return found


def openapi_document(routes: list[AdminRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    types: list[Any] = []
    for route in routes:
        for kind in (route.body, route.response):
            if kind is not None and kind not in types:
                types.append(kind)
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    for schema in components.values():  # docstrings use reStructuredText literals; Markdown wants one backtick
        if isinstance(schema.get("description"), str):
            schema["description"] = schema["description"].replace("``", "`")
    refs = dict(zip(types, schemas, strict=True))
    components = {**components, "Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": _operation_id(route),
            "summary": route.summary,
            "tags": [route.path.split("/")[2].split(".")[0]],
        }
        parameters = _parameters(route)
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {
                "required": route.handler is not None,
                "content": {"application/json": {"schema": refs[route.body]}},
            }
        responses: dict[str, Any] = {
            str(route.status): {
                "description": HTTPStatus(route.status).phrase,
                "content": {"application/json": {"schema": _response_schema(route, refs)}},
            }
        }
        for status in route.errors:
            responses[str(status)] = {
                "description": HTTPStatus(status).phrase,
                "content": {"application/json": {"schema": {"$ref": _REF.format(name="Error")}}},
            }
        operation["responses"] = responses
        paths.setdefault(_PARAM.sub(r"{\1}", route.path), {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "omnirouter admin API",
            "version": "1",
            "description": "Users, client keys, groups, prices, channels, usage and the ledger. Send the admin key "
            "as 'Authorization: Bearer <admin key>'. Money is in US dollars. Objects of the config file "
            "are read-only here (409).",
        },
        "security": [{"adminKey": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"adminKey": {"type": "http", "scheme": "bearer"}},
        },
    }
