"""The one home of the optional-field readers (``protocols/fields.py``): each protocol's wording."""

from __future__ import annotations

import pytest

from omnirouter.ir import GatewayError
from omnirouter.protocols.anthropic import _shared as anthropic
from omnirouter.protocols.fields import FIELDS, opt_bool, opt_dict, opt_str
from omnirouter.protocols.gemini._shared import child_bool, child_str, config_object


def _message(call: object) -> tuple[str, str | None]:
    assert callable(call)
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value.message, caught.value.param


def test_readers_return_values_and_none() -> None:
    body = {"s": "x", "b": False, "d": {}, "n": None}
    assert (opt_str(body, "s", "s"), opt_bool(body, "b", "b"), opt_dict(body, "d", "d")) == ("x", False, {})
    assert opt_str(body, "n", "n") is None and opt_bool(body, "absent", "absent") is None
    assert FIELDS.string(None, "p") is None and FIELDS.object({"a": 1}, "p") == {"a": 1}


def test_openai_wording() -> None:
    assert _message(lambda: opt_str({"user": 1}, "user", "user")) == ("'user' must be a string", "user")
    assert _message(lambda: opt_bool({"x": "yes"}, "x", "a.x")) == ("'a.x' must be a boolean", "a.x")
    assert _message(lambda: opt_dict({"x": []}, "x", "x")) == ("'x' must be an object", "x")
    assert _message(lambda: FIELDS.req_str({}, "name", "name")) == ("'name' is required", "name")


def test_anthropic_wording() -> None:
    assert _message(lambda: anthropic.opt_str({"a": 1}, "a", "a")) == ("a: Input should be a valid string", "a")
    assert _message(lambda: anthropic.req_str({}, "name", "tools.0.name")) == (
        "tools.0.name: Field required",
        "tools.0.name",
    )
    assert anthropic.req_str({"text": ""}, "text", "text") == ""
    assert _message(lambda: anthropic.opt_bool({"a": 0}, "a", "a")) == ("a: Input should be a valid boolean", "a")
    assert _message(lambda: anthropic.opt_dict({"a": 0}, "a", "a")) == ("a: Input should be a valid dictionary", "a")


def test_gemini_names_the_parent_and_reads_either_spelling() -> None:
    assert child_str({"mime_type": "image/png"}, "mimeType", "x") == "image/png"
    assert _message(lambda: child_str({"mode": 1}, "mode", "toolConfig")) == (
        "'toolConfig.mode' must be a string",
        "toolConfig.mode",
    )
    assert _message(lambda: child_bool({"includeThoughts": 1}, "includeThoughts", "t")) == (
        "'t.includeThoughts' must be a boolean",
        "t.includeThoughts",
    )
    assert config_object({"max_output_tokens": 5}, "generationConfig") == {"maxOutputTokens": 5}
    assert _message(lambda: config_object([], "tools[0]")) == ("'tools[0]' must be an object", "tools[0]")
