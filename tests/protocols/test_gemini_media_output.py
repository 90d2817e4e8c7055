"""Image and audio output through the chat codecs: Gemini answers with ``inlineData`` images read into the
IR, written for OpenAI Chat clients as ``message.images`` / ``delta.images``, usage by modality."""

from __future__ import annotations

import base64
import io
from typing import Any

import openai.types.chat as oa
import orjson
import pytest
from openai.types.responses import Response
from PIL import Image

from omnirouter.ir import (
    ChatRequest,
    ChatResponse,
    Choice,
    ChoiceEnd,
    GatewayError,
    ImageDelta,
    ImageOutput,
    ImagePart,
    Message,
    StopReason,
    StreamStart,
    TextDelta,
    TextPart,
    Usage,
)
from omnirouter.protocols.anthropic import ANTHROPIC
from omnirouter.protocols.gemini import GEMINI, GEMINI_PASSTHROUGH, usage_from_gemini, usage_to_gemini
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.protocols.openai_responses import OPENAI_RESPONSES
from omnirouter.protocols.sse import SSEEvent
from omnirouter.relay.image_output import MarkdownImages, response_as_markdown


def _png(width: int = 8, height: int = 4) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


PNG = _png()
META = {
    "promptTokenCount": 12,
    "candidatesTokenCount": 1297,
    "totalTokenCount": 1309,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}, {"modality": "IMAGE", "tokenCount": 2}],
    "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 7}, {"modality": "IMAGE", "tokenCount": 1290}],
}
ANSWER: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [{"text": "Here it is"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": META,
    "modelVersion": "gemini-2.5-flash-image",
    "responseId": "r1",
}


def _opens(data_url: str) -> Image.Image:
    header, _, data = data_url.partition(",")
    assert header == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_usage_counts_image_and_audio_tokens_by_modality() -> None:
    usage = usage_from_gemini(META)
    assert (usage.input_tokens, usage.output_tokens) == (12, 1297)
    assert (usage.image_input_tokens, usage.image_output_tokens) == (2, 1290)
    assert (usage.audio_input_tokens, usage.audio_output_tokens) == (0, 0)
    audio = usage_from_gemini(
        {
            "promptTokenCount": 5,
            "candidatesTokenCount": 50,
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 50}],
        }
    )
    assert audio.audio_output_tokens == 50 and audio.image_output_tokens == 0
    garbage = usage_from_gemini({"candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": "x"}, 7, {}]})
    assert garbage.image_output_tokens == 0
    written = usage_to_gemini(usage)
    assert written["candidatesTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": 7},
        {"modality": "IMAGE", "tokenCount": 1290},
    ]
    assert usage_from_gemini(written) == usage
    assert "candidatesTokensDetails" not in usage_to_gemini(Usage(input_tokens=1, output_tokens=2))


def test_passthrough_usage_has_the_modality_tokens() -> None:
    body, usage = GEMINI_PASSTHROUGH.rewrite_response(orjson.dumps(ANSWER), "banana")
    assert usage is not None and usage.image_output_tokens == 1290 and usage.image_input_tokens == 2
    answer = orjson.loads(body)
    assert answer["candidates"][0]["content"]["parts"][1]["inlineData"]["data"] == PNG  # untouched
    relay = GEMINI_PASSTHROUGH.new_stream_filter("banana", True)
    relay.process(SSEEvent(data=orjson.dumps(ANSWER)))
    assert relay.usage is not None and relay.usage.image_output_tokens == 1290


def test_gemini_image_answer_becomes_openai_message_images() -> None:
    response = GEMINI.decode_response(ANSWER)
    assert response.choices[0].content[1] == ImagePart(data=PNG, media_type="image/png")
    assert response.usage is not None and response.usage.image_output_tokens == 1290
    body = OPENAI_CHAT.encode_response(response)
    completion = oa.ChatCompletion.model_validate(body)
    message = completion.choices[0].message
    assert message.content == "Here it is"
    images = (message.model_extra or {})["images"]
    assert images == [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}, "index": 0}]
    assert _opens(images[0]["image_url"]["url"]).size == (8, 4)
    assert body["usage"]["completion_tokens_details"]["image_tokens"] == 1290
    # An OpenAI-compatible upstream answering with images (OpenRouter) is read back the same way.
    again = OPENAI_CHAT.decode_response(body)
    assert again.choices[0].content == response.choices[0].content
    assert again.usage is not None and again.usage.image_output_tokens == 1290


def test_gemini_image_stream_becomes_delta_images() -> None:
    decoder = GEMINI.new_stream_decoder()
    chunks = [
        {**ANSWER, "candidates": [{"content": {"role": "model", "parts": [{"text": "Here"}]}, "index": 0}]},
        ANSWER
        | {
            "candidates": [
                {
                    **ANSWER["candidates"][0],
                    "content": {"role": "model", "parts": ANSWER["candidates"][0]["content"]["parts"][1:]},
                }
            ]
        },
    ]
    events = [e for c in chunks for e in decoder.feed(SSEEvent(data=orjson.dumps(c)))] + decoder.finish()
    images = [e for e in events if isinstance(e, ImageDelta)]
    assert images == [ImageDelta(data=PNG, media_type="image/png")]
    request = ChatRequest(model="banana", messages=[], stream=True, include_usage=True)
    encoder = OPENAI_CHAT.new_stream_encoder(request)
    raw = b"".join(encoder.encode(e) for e in events) + encoder.finish()
    frames = [line[6:] for line in raw.split(b"\n") if line.startswith(b"data: ") and line != b"data: [DONE]"]
    parsed = [oa.ChatCompletionChunk.model_validate(orjson.loads(f)) for f in frames]
    found = [img for c in parsed for ch in c.choices for img in (ch.delta.model_extra or {}).get("images", [])]
    assert len(found) == 1 and _opens(found[0]["image_url"]["url"]).size == (8, 4) and found[0]["index"] == 0
    assert "".join(ch.delta.content or "" for c in parsed for ch in c.choices) == "Here"
    usage = parsed[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert (usage.completion_tokens_details.model_extra or {})["image_tokens"] == 1290
    # ...and an OpenAI upstream's delta.images decodes back into the event.
    back = OPENAI_CHAT.new_stream_decoder()
    decoded = [e for f in frames for e in back.feed(SSEEvent(data=f))]
    assert [e for e in decoded if isinstance(e, ImageDelta)] == images


def test_openai_request_modalities_and_image_config_reach_gemini() -> None:
    body = {
        "model": "banana",
        "messages": [{"role": "user", "content": "a cat"}],
        "modalities": ["image", "text"],
        "image_config": {"aspect_ratio": "16:9"},
        "google": {"image_config": {"imageSize": "2K", "aspectRatio": "1:1"}, "safety_settings": []},
    }
    request = OPENAI_CHAT.decode_request(body)
    assert request.modalities == ["image", "text"]
    assert request.image_output == ImageOutput(aspect_ratio="16:9", image_size="2K")  # top level wins
    assert request.extra == {"google": {"safety_settings": []}}
    config = GEMINI.encode_request(request)["generationConfig"]
    assert config["responseModalities"] == ["IMAGE", "TEXT"]
    assert config["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    snake = OPENAI_CHAT.decode_request(
        {**body, "image_config": None, "google": {"image_config": {"aspect_ratio": "3:2", "image_size": "4K"}}}
    )
    assert snake.image_output == ImageOutput(aspect_ratio="3:2", image_size="4K") and "google" not in snake.extra
    upstream = OPENAI_CHAT.encode_request(snake)  # to an OpenRouter-style upstream
    assert upstream["modalities"] == ["image", "text"]
    assert upstream["image_config"] == {"aspect_ratio": "3:2", "image_size": "4K"}
    plain = OPENAI_CHAT.encode_request(OPENAI_CHAT.decode_request({"model": "m", "messages": body["messages"]}))
    assert "modalities" not in plain and "image_config" not in plain
    assert "responseModalities" not in GEMINI.encode_request(OPENAI_CHAT.decode_request(plain)).get(
        "generationConfig", {}
    )


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"modalities": ["text", "video"]}, "modalities"),
        ({"modalities": "image"}, "modalities"),
        ({"image_config": "16:9"}, "image_config"),
        ({"image_config": {"aspect_ratio": 16}}, "image_config.aspect_ratio"),
        ({"google": {"image_config": {"imageSize": ""}}}, "google.image_config.imageSize"),
    ],
)
def test_bad_image_settings_name_the_field(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        OPENAI_CHAT.decode_request({"model": "m", "messages": [{"role": "user", "content": "x"}], **extra})
    assert caught.value.param == param


def test_gemini_client_modalities_round_trip_and_keep_what_the_ir_lacks() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "4:3"}},
    }
    request = GEMINI.decode_request(body)
    assert request.modalities == ["text", "image"] and request.image_output == ImageOutput(aspect_ratio="4:3")
    assert "generationConfig" not in request.extra
    assert GEMINI.encode_request(request)["generationConfig"] == body["generationConfig"]
    vertex = {
        "contents": body["contents"],
        "generationConfig": {"imageConfig": {"aspectRatio": "1:1", "personGeneration": "x"}},
    }
    decoded = GEMINI.decode_request(vertex)
    assert decoded.extra["generationConfig"]["imageConfig"]["personGeneration"] == "x"
    assert (
        GEMINI.encode_request(decoded)["generationConfig"]["imageConfig"] == vertex["generationConfig"]["imageConfig"]
    )
    upstream = OPENAI_CHAT.encode_request(request)
    assert upstream["modalities"] == ["text", "image"] and upstream["image_config"] == {"aspect_ratio": "4:3"}


def test_markdown_form_puts_images_in_the_text_only() -> None:
    response = response_as_markdown(GEMINI.decode_response(ANSWER))
    body = OPENAI_CHAT.encode_response(response)
    message = body["choices"][0]["message"]
    assert "images" not in message
    assert message["content"] == f"Here it is\n\n![image](data:image/png;base64,{PNG})"
    decoder = MarkdownImages(GEMINI.new_stream_decoder())
    events = decoder.feed(SSEEvent(data=orjson.dumps(ANSWER))) + decoder.finish()
    assert not any(isinstance(e, ImageDelta) for e in events)
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["Here it is", f"\n\n![image](data:image/png;base64,{PNG})"]


def _answer_with_image() -> ChatResponse:
    return ChatResponse(
        id="r",
        model="banana",
        created=1,
        choices=[
            Choice(
                content=[TextPart(text="hi"), ImagePart(data=PNG, media_type="image/png")], stop_reason=StopReason.END
            )
        ],
    )


def test_responses_clients_get_image_generation_call_items() -> None:
    request = ChatRequest(model="banana", messages=[Message(role="user", content=[TextPart(text="x")])])
    body = OPENAI_RESPONSES.encode_response(_answer_with_image(), request)
    parsed = Response.model_validate(body)
    calls = [item for item in parsed.output if item.type == "image_generation_call"]
    assert len(calls) == 1 and calls[0].result == PNG and calls[0].status == "completed"
    encoder = OPENAI_RESPONSES.new_stream_encoder(request)
    events = [
        StreamStart(id="r", model="banana"),
        TextDelta(text="hi"),
        ImageDelta(data=PNG, media_type="image/png"),
        ChoiceEnd(stop_reason=StopReason.END),
    ]
    raw = b"".join(encoder.encode(e) for e in events) + encoder.finish()
    assert encoder.answer is not None
    final = Response.model_validate(encoder.answer)
    assert [item.type for item in final.output] == ["message", "image_generation_call"]
    assert b"response.output_item.done" in raw


def test_anthropic_clients_do_not_break_on_images() -> None:
    body = ANTHROPIC.encode_response(_answer_with_image())
    assert body["content"] == [{"type": "text", "text": "hi"}]
    request = ChatRequest(model="banana", messages=[])
    encoder = ANTHROPIC.new_stream_encoder(request)
    events = [
        StreamStart(id="r", model="banana"),
        ImageDelta(data=PNG, media_type="image/png"),
        TextDelta(text="hi"),
        ChoiceEnd(stop_reason=StopReason.END),
    ]
    raw = b"".join(encoder.encode(e) for e in events) + encoder.finish()
    assert b'"image"' not in raw and b'"text_delta"' in raw and raw.endswith(b"\n\n")


def test_gemini_clients_of_a_translated_stream_get_inline_data() -> None:
    encoder = GEMINI.new_stream_encoder(ChatRequest(model="banana", messages=[]))
    raw = encoder.encode(StreamStart(id="r", model="banana")) + encoder.encode(
        ImageDelta(data=PNG, media_type="image/png")
    )
    chunk = orjson.loads(raw.removeprefix(b"data: ").strip())
    assert chunk["candidates"][0]["content"]["parts"] == [{"inlineData": {"mimeType": "image/png", "data": PNG}}]
