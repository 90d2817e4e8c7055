"""The one pass-through answer rewriter (``protocols/passthrough_rewrite.py``) and each protocol's facts."""

from __future__ import annotations

import orjson
import pytest

from omnirouter.ir import GatewayError
from omnirouter.protocols.anthropic.passthrough import ANSWER as ANTHROPIC
from omnirouter.protocols.gemini.passthrough import ANSWER as GEMINI
from omnirouter.protocols.json_patch import replace_string_field
from omnirouter.protocols.openai_chat.passthrough import ANSWER as OPENAI_CHAT
from omnirouter.protocols.openai_responses.passthrough import ANSWER as OPENAI_RESPONSES
from omnirouter.protocols.passthrough_rewrite import AnswerFacts


@pytest.mark.parametrize(
    ("facts", "answer"),
    [
        (OPENAI_CHAT, {"model": "up", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
        (ANTHROPIC, {"model": "up", "content": [], "usage": {"input_tokens": 3, "output_tokens": 4}}),
        (OPENAI_RESPONSES, {"model": "up", "output": [], "usage": {"input_tokens": 3, "output_tokens": 4}}),
        (GEMINI, {"candidates": [], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4},
                  "modelVersion": "up"}),
    ],
)  # fmt: skip
def test_rewrite_renames_and_reads_usage(facts: AnswerFacts, answer: dict[str, object]) -> None:
    body, usage = facts.rewrite(orjson.dumps(answer), "public")
    assert orjson.loads(body) == {**answer, facts.model_key: "public"}
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == (3, 4)
    assert facts.rewrite(orjson.dumps({k: v for k, v in answer.items() if k != facts.usage_key}), "p")[1] is None
    for bad, words in ((b"nope", "not JSON"), (b"[1]", "unexpected response shape"), (b"{}", "unexpected")):
        with pytest.raises(GatewayError, match=words):
            facts.rewrite(bad, "public")


def test_chunk_renamer_keeps_the_upstream_spacing_and_learns_its_member() -> None:
    renamer = GEMINI.renamer('pub"lic')
    spaced = [b'{"candidates": [{"index": %d}], "modelVersion": "gemini-x"}' % i for i in range(3)]
    for chunk in spaced:  # the first is edited by scanning, the others by one replace: the same bytes
        assert renamer.rename(chunk) == replace_string_field(chunk, b"modelVersion", orjson.dumps('pub"lic'))
    quoted = b'{"text": "\\"modelVersion\\": \\"gemini-x\\"", "modelVersion": "gemini-x"}'
    assert orjson.loads(renamer.rename(quoted)) == {"text": '"modelVersion": "gemini-x"', "modelVersion": 'pub"lic'}
    assert renamer.rename(b'{"candidates": []}') == b'{"candidates": []}'
    same = OPENAI_CHAT.renamer("m")
    chunk = b'{"model":"m","choices":[]}'
    assert same.rename(chunk) == chunk and same.rename(chunk) is chunk  # learnt: nothing to edit, no copy
