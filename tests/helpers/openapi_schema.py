"""Validate JSON against a schema of OpenAI's OpenAPI description (tests/reference_data/openai-openapi.json).

The spec is OpenAPI 3.1 but still uses the 3.0 ``nullable: true`` keyword in
places (e.g. a stream chunk's ``finish_reason``); it is rewritten to
``anyOf [..., {"type": "null"}]`` so that JSON Schema 2020-12 means the same.
The spec is loaded once; validators are cached per schema name.

    from tests.helpers.openapi_schema import validate_openai
    validate_openai("CreateChatCompletionResponse", body)   # raises jsonschema.ValidationError
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.helpers.reference import OPENAPI_SPEC

SPEC_PATH = OPENAPI_SPEC
_BASE_URI = "urn:openai-openapi"

__all__ = ["SPEC_PATH", "openai_validator", "validate_openai", "validate_openai_any_of"]


def _rewrite_nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite_nullable(value) for key, value in node.items()}
    if rewritten.get("nullable") is True:
        del rewritten["nullable"]
        return {"anyOf": [rewritten, {"type": "null"}]}
    if rewritten.get("nullable") is False:
        del rewritten["nullable"]
    return rewritten


@functools.cache
def _registry() -> Registry:
    spec = json.loads(SPEC_PATH.read_text())
    document = {"components": {"schemas": _rewrite_nullable(spec["components"]["schemas"])}}
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(_BASE_URI, resource)
    return registry


@functools.cache
def openai_validator(schema_name: str) -> Draft202012Validator:
    """A validator for ``#/components/schemas/<schema_name>``."""
    registry = _registry()
    if schema_name not in registry.contents(_BASE_URI)["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in {SPEC_PATH.name}")
    schema = {"$ref": f"{_BASE_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry)


def validate_openai(schema_name: str, instance: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` (the most relevant one) unless ``instance`` fits the schema."""
    error = best_match(openai_validator(schema_name).iter_errors(instance))
    if error is not None:
        raise error


def _to_2020(node: Any) -> Any:
    """OpenAPI 3.0 leftovers to JSON Schema: ``nullable`` becomes a null branch; ``oneOf`` (used
    with discriminators, whose branches may overlap) becomes ``anyOf``."""
    if isinstance(node, list):
        return [_to_2020(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {("anyOf" if k == "oneOf" else k): _to_2020(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _any_of_registry() -> Registry[Any]:
    spec = _to_2020(json.loads(SPEC_PATH.read_text()))
    return Registry().with_resource("urn:openai", Resource.from_contents(spec, default_specification=DRAFT202012))


def validate_openai_any_of(instance: Any, schema_name: str) -> None:
    """Validate against ``#/components/schemas/<schema_name>`` of the OpenAPI file."""
    schema = {"$ref": f"urn:openai#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=_any_of_registry()).validate(instance)
