"""Gemini's ``Schema`` (an OpenAPI 3.0 subset) → JSON Schema.

Only the decoding direction exists: encoders always send the neutral JSON
schema as ``parametersJsonSchema`` / ``responseJsonSchema``.  The conversion
lower-cases ``type`` (``"OBJECT"`` → ``"object"``, ``TYPE_UNSPECIFIED`` dropped),
turns ``nullable: true`` into a ``"null"`` type alternative, reads int64
bounds given as strings (up to 18 digits; longer ones stay strings), and drops the Gemini-only ``propertyOrdering``.
Unknown keywords are kept.
"""

from __future__ import annotations

from typing import Any

_INT64_KEYS = frozenset({"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"})
_DROPPED = frozenset({"propertyOrdering", "property_ordering", "nullable"})
_SNAKE = {
    "any_of": "anyOf",
    "min_items": "minItems",
    "max_items": "maxItems",
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_properties": "minProperties",
    "max_properties": "maxProperties",
}


def _type(value: Any, nullable: bool) -> Any:
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == "type_unspecified":
            return None
        return [lowered, "null"] if nullable and lowered != "null" else lowered
    return value


def schema_to_json(schema: Any) -> Any:
    """A Gemini ``Schema`` object as JSON Schema (non-objects are returned unchanged)."""
    if isinstance(schema, list):
        return [schema_to_json(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    nullable = schema.get("nullable") is True
    out: dict[str, Any] = {}
    for raw_key, value in schema.items():
        key = _SNAKE.get(str(raw_key), str(raw_key))
        if key in _DROPPED:
            continue
        if key == "type":
            converted = _type(value, nullable)
            if converted is not None:
                out["type"] = converted
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: schema_to_json(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = schema_to_json(value)
        elif key in _INT64_KEYS and isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
            out[key] = int(value)
        else:
            out[key] = value
    if nullable and "type" not in out and "anyOf" in out and isinstance(out["anyOf"], list):
        out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out
