"""Pass-through bodies are edited as bytes only when that is certainly right; else re-serialised."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

from omnirouter.protocols.anthropic.passthrough import ANTHROPIC_PASSTHROUGH
from omnirouter.protocols.gemini.passthrough import GEMINI_PASSTHROUGH
from omnirouter.protocols.json_patch import set_top_level_string, with_first_member, with_top_level_string
from omnirouter.protocols.openai_chat.passthrough import OPENAI_CHAT_PASSTHROUGH
from omnirouter.protocols.openai_responses.passthrough import OPENAI_RESPONSES_PASSTHROUGH


def test_same_value_keeps_the_very_bytes() -> None:
    raw = b'{"model": "m", "messages": []}'
    assert with_top_level_string(raw, orjson.loads(raw), "model", "m") is raw


def test_a_compact_member_is_renamed_in_place() -> None:
    raw = b'{"messages":[{"role":"user","content":"say \\"model\\" twice"}],"model":"public","n":1}'
    out = with_top_level_string(raw, orjson.loads(raw), "model", "up/é-1")
    assert out == raw.replace(b'"model":"public"', b'"model":"up/\xc3\xa9-1"')
    assert orjson.loads(out or b"") == {**orjson.loads(raw), "model": "up/é-1"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "public", "messages": []}',  # spaced: not the form we look for
        b'{"model":"public","metadata":{"model":"public"}}',  # the key twice
        b'{"model":"public","contents":[{"role":"model"}]}',  # the token as a value
        b'{"model":"pub\\u006cic"}',  # escaped differently from orjson
        b'{"model":7}',  # not a string
        b'{"messages":[]}',  # absent
    ],
)
def test_anything_uncertain_is_left_to_re_serialising(raw: bytes) -> None:
    assert with_top_level_string(raw, orjson.loads(raw), "model", "upstream") is None


def test_set_edits_when_certain_and_re_serialises_otherwise() -> None:
    spaced = b'{"model": "public", "n": 1}'
    parsed = orjson.loads(spaced)
    assert orjson.loads(set_top_level_string(spaced, parsed, "model", "up")) == {"model": "up", "n": 1}
    assert parsed == {"model": "public", "n": 1}  # the caller's dict is left as it was
    compact = b'{"model":"public","n":1}'
    assert set_top_level_string(compact, orjson.loads(compact), "model", "up") == b'{"model":"up","n":1}'


def test_without_the_clients_text_nothing_is_patched() -> None:
    assert with_top_level_string(None, {"model": "a"}, "model", "a") is None


def random_body(seed: int) -> bytes:
    """A JSON object with a top-level string ``model``, written by orjson or (spaced) by json."""
    rng = random.Random(seed)
    words = ["model", "x", 'q"uote', "é", "\\", "", "model\\", "{", "}", ":"]

    def value(depth: int) -> Any:
        kind = rng.randrange(6 if depth < 3 else 3)
        if kind == 0:
            return rng.choice(words) + rng.choice(words)
        if kind == 1:
            return rng.randrange(100)
        if kind == 2:
            return None
        if kind == 3:
            return [value(depth + 1) for _ in range(rng.randrange(3))]
        return {rng.choice(words): value(depth + 1) for _ in range(rng.randrange(3))}

    body = {rng.choice(words): value(0) for _ in range(rng.randrange(4))}
    body["model"] = rng.choice(words)
    items = list(body.items())
    rng.shuffle(items)
    return orjson.dumps(dict(items)) if rng.random() < 0.7 else json.dumps(dict(items)).encode()


@pytest.mark.parametrize("seed", range(200))
def test_patched_bytes_always_parse_to_the_intended_body(seed: int) -> None:
    raw = random_body(seed)
    parsed = orjson.loads(raw)
    out = with_top_level_string(raw, parsed, "model", "upstream-model")
    if out is not None:
        assert orjson.loads(out) == {**parsed, "model": "upstream-model"}


def test_the_random_bodies_take_both_ways() -> None:
    patched = [
        with_top_level_string(raw, orjson.loads(raw), "model", "up") is not None for raw in map(random_body, range(200))
    ]
    assert 20 < sum(patched) < 180


def test_first_member() -> None:
    assert with_first_member(b' { "a": 1}', b'"s":{}') == b'{"s":{},"a": 1}'
    assert with_first_member(b"{}", b'"s":1') == b'{"s":1}'
    assert with_first_member(b"[1]", b'"s":1') is None


def test_openai_stream_asks_for_usage_by_bytes_and_keeps_what_the_client_set() -> None:
    raw = b'{"model":"public","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    prepared = OPENAI_CHAT_PASSTHROUGH.prepare(orjson.loads(raw), "up", True, raw)
    assert orjson.loads(prepared.data) == {
        **orjson.loads(raw),
        "model": "up",
        "stream_options": {"include_usage": True},
    }
    assert prepared.client_wants_usage is False
    asked = b'{"model":"up","stream":true,"stream_options":{"include_usage":true},"messages":[]}'
    prepared = OPENAI_CHAT_PASSTHROUGH.prepare(orjson.loads(asked), "up", True, asked)
    assert prepared.data is asked and prepared.client_wants_usage is True
    other = b'{"model":"up","stream":true,"stream_options":{"x":1},"messages":[]}'
    data = OPENAI_CHAT_PASSTHROUGH.prepare(orjson.loads(other), "up", True, other).data
    assert orjson.loads(data)["stream_options"] == {"x": 1, "include_usage": True}
    plain = b'{"model":"up","messages":[]}'
    assert OPENAI_CHAT_PASSTHROUGH.prepare(orjson.loads(plain), "up", False, plain).data is plain


def test_other_protocols_forward_the_clients_bytes_when_nothing_changes() -> None:
    anthropic = b'{"model":"claude","max_tokens":5,"messages":[]}'
    assert ANTHROPIC_PASSTHROUGH.prepare(orjson.loads(anthropic), "claude", False, anthropic).data is anthropic
    renamed = ANTHROPIC_PASSTHROUGH.prepare(orjson.loads(anthropic), "claude-2", False, anthropic).data
    assert orjson.loads(renamed)["model"] == "claude-2"
    gemini = b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
    assert GEMINI_PASSTHROUGH.prepare(orjson.loads(gemini), "g", False, gemini).data is gemini
    responses = b'{"model":"gpt","input":"hi"}'
    assert OPENAI_RESPONSES_PASSTHROUGH.prepare(orjson.loads(responses), "gpt", False, responses).data is responses
    reasoning = b'{"model":"gpt","input":"hi","reasoning":{"effort":"low"}}'
    data = OPENAI_RESPONSES_PASSTHROUGH.prepare(orjson.loads(reasoning), "gpt", False, reasoning).data
    assert orjson.loads(data)["include"] == ["reasoning.encrypted_content"]


def test_answers_keep_their_bytes_or_get_the_public_name() -> None:
    answer = b'{"id":"c","model":"up","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}'
    same, usage = OPENAI_CHAT_PASSTHROUGH.rewrite_response(answer, "up")
    assert same is answer and usage is not None and usage.input_tokens == 3
    renamed, _ = OPENAI_CHAT_PASSTHROUGH.rewrite_response(answer, "public")
    assert orjson.loads(renamed) == {**orjson.loads(answer), "model": "public"}
