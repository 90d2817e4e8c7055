"""The speech codecs without I/O: the voice table, request checks, vendor answers (errors inside 200 bodies,
stream framing) and the usage each vendor's answer gives."""

from __future__ import annotations

import base64
import io
from typing import Any

import orjson
import pytest
import soundfile as sf

from omnirouter.ir import GatewayError
from omnirouter.ir.media import SpeechRequest
from omnirouter.protocols.media.base import Answer, Followup, Target
from omnirouter.protocols.media.dashscope_speech import DASHSCOPE_SPEECH_UP
from omnirouter.protocols.media.elevenlabs_speech import ELEVENLABS_SPEECH_UP
from omnirouter.protocols.media.gemini_speech import GEMINI_SPEECH_UP
from omnirouter.protocols.media.minimax_speech import MINIMAX_SPEECH_UP
from omnirouter.protocols.media.openai_speech import (
    AUDIO_SLACK,
    AUDIO_TOKENS_PER_CHARACTER,
    OPENAI_SPEECH_IN,
    OPENAI_SPEECH_UP,
)
from omnirouter.protocols.media.voices import OPENAI_VOICES, VOICE_TABLE, vendor_voice
from omnirouter.protocols.media.volcengine_speech import VOLCENGINE_SPEECH_UP


def request(**fields: Any) -> SpeechRequest:
    return SpeechRequest(**{"model": "m", "text": "你好, world", "voice": "alloy", **fields})


def target(model: str = "m", **options: str) -> Target:
    return Target(model, options, "secret-key")


@pytest.mark.parametrize("vendor", list(VOICE_TABLE))
def test_every_openai_voice_maps_for_every_vendor(vendor: str) -> None:
    assert set(VOICE_TABLE[vendor]) == set(OPENAI_VOICES)
    for voice in OPENAI_VOICES:
        assert vendor_voice(voice.upper(), vendor) == VOICE_TABLE[vendor][voice]


def test_own_voices_pass_and_unknown_ones_are_400_naming_voice() -> None:
    assert vendor_voice("puck", "gemini") == "Puck"
    assert vendor_voice("zh_female_vv_uranus_bigtts", "volcengine") == "zh_female_vv_uranus_bigtts"
    assert vendor_voice("pNInz6obpgDQGcFmaJgB", "elevenlabs") == "pNInz6obpgDQGcFmaJgB"
    for voice, vendor in [("Nobody", "gemini"), ("short", "elevenlabs"), ("nounderscore", "volcengine")]:
        with pytest.raises(GatewayError) as caught:
            vendor_voice(voice, vendor)
        assert caught.value.param == "voice"


def test_budget_counts_code_points_not_bytes() -> None:
    body = orjson.dumps({"model": "m", "input": "你好世界", "voice": "alloy"})
    decoded = OPENAI_SPEECH_IN.decode(body, "application/json", None)
    assert decoded.format == "mp3" and decoded.speed is None and not decoded.sse
    budget = OPENAI_SPEECH_IN.budget(decoded, len(body))
    assert budget.characters == 4 and budget.input_bytes == len(body)
    assert budget.max_output == 4 * AUDIO_TOKENS_PER_CHARACTER + AUDIO_SLACK  # audio tokens of token-billed TTS


def test_budget_reserves_more_audio_tokens_for_slower_speech() -> None:
    body = orjson.dumps({"model": "m", "input": "x" * 100, "voice": "alloy", "speed": 0.25})
    decoded = OPENAI_SPEECH_IN.decode(body, "application/json", None)
    budget = OPENAI_SPEECH_IN.budget(decoded, len(body))
    assert budget.max_output == 100 * AUDIO_TOKENS_PER_CHARACTER * 4 + AUDIO_SLACK
    fast = OPENAI_SPEECH_IN.decode(orjson.dumps({"model": "m", "input": "x" * 100, "voice": "alloy", "speed": 4}),
                                   "application/json", None)  # fmt: skip
    assert OPENAI_SPEECH_IN.budget(fast, 10).max_output == 100 * AUDIO_TOKENS_PER_CHARACTER + AUDIO_SLACK


def test_custom_voice_object_goes_to_openai_as_an_object() -> None:
    body = orjson.dumps({"model": "m", "input": "hi", "voice": {"id": "voice_abc123"}})
    decoded = OPENAI_SPEECH_IN.decode(body, "application/json", None)
    call = OPENAI_SPEECH_UP.build(decoded, target("gpt-4o-mini-tts"))
    sent = orjson.loads(call.body)
    assert sent["voice"] == {"id": "voice_abc123"} and sent["stream_format"] == "sse"
    assert "speed" not in sent and "instructions" not in sent  # nothing the client did not send
    assert "stream_format" not in orjson.loads(OPENAI_SPEECH_UP.build(decoded, target("tts-1")).body)


def _sse(*objs: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(o) + b"\n\n" for o in objs)


def test_openai_sse_answer_gives_audio_and_token_usage() -> None:
    body = _sse(
        {"type": "speech.audio.delta", "audio": base64.b64encode(b"abcd").decode()},
        {"type": "speech.audio.delta", "audio": base64.b64encode(b"ef").decode()},
        {"type": "speech.audio.done", "usage": {"input_tokens": 7, "output_tokens": 30, "total_tokens": 37}},
    )
    result = OPENAI_SPEECH_UP.parse(Answer(200, {}, body), request(format="pcm"), target("gpt-4o-mini-tts"), None)
    assert result.audio == b"abcdef"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.audio_output_tokens) == (7, 30, 30)
    tts1 = OPENAI_SPEECH_UP.parse(Answer(200, {}, b"ID3..."), request(), target("tts-1"), None)
    assert tts1.usage.characters == len("你好, world") and not tts1.usage.estimated


def test_minimax_stream_ignores_the_aggregated_audio_and_reads_characters() -> None:
    plan = MINIMAX_SPEECH_UP.audio_stream(request(format="pcm"), target("speech-02-hd"))
    assert plan is not None
    call, decoder = plan
    sent = orjson.loads(call.body)
    assert sent["stream"] is True and sent["audio_setting"] == {"format": "pcm", "sample_rate": 24000}
    ok = {"status_code": 0, "status_msg": "success"}
    body = _sse(
        {"data": {"audio": b"\x01\x02".hex(), "status": 1}, "base_resp": ok},
        {"data": {"audio": b"\x03\x04".hex(), "status": 1}, "base_resp": ok},
        {"data": {"audio": b"\x01\x02\x03\x04".hex(), "status": 2}, "extra_info": {"usage_characters": 9},
         "base_resp": ok},
    )  # fmt: skip
    decoder.begin({"content-type": "text/event-stream"})
    out = b"".join(decoder.feed(body[i : i + 7]) for i in range(0, len(body), 7)) + decoder.finish()
    assert out == b"\x01\x02\x03\x04"
    assert decoder.usage.characters == 9 and not decoder.usage.estimated


def test_minimax_errors_inside_200_bodies_are_raised() -> None:
    error = {"base_resp": {"status_code": 1004, "status_msg": "login fail"}}
    with pytest.raises(GatewayError, match="1004"):
        MINIMAX_SPEECH_UP.parse(Answer(200, {}, orjson.dumps(error)), request(), target(), None)
    plan = MINIMAX_SPEECH_UP.audio_stream(request(format="mp3"), target())
    assert plan is not None
    decoder = plan[1]
    decoder.begin({"content-type": "application/json"})
    assert decoder.feed(orjson.dumps(error)) == b""
    with pytest.raises(GatewayError, match="login fail"):
        decoder.finish()
    assert MINIMAX_SPEECH_UP.audio_stream(request(format="opus"), target()) is None  # read whole, transcoded


def test_volcengine_v1_call_and_its_error_codes() -> None:
    call = VOLCENGINE_SPEECH_UP.build(request(format="opus"), target(app_id="app-1"))
    sent = orjson.loads(call.body)
    assert call.path == "/api/v1/tts" and call.headers["Authorization"] == "Bearer;secret-key"
    assert sent["app"] == {"appid": "app-1", "token": "secret-key", "cluster": "volcano_tts"}
    assert sent["audio"]["encoding"] == "ogg_opus" and "speed_ratio" not in sent["audio"]
    bad = orjson.dumps({"code": 3050, "message": "voice not granted"})
    with pytest.raises(GatewayError, match="3050"):
        VOLCENGINE_SPEECH_UP.parse(Answer(200, {}, bad), request(format="opus"), target(app_id="a"), None)
    ok = orjson.dumps({"code": 3000, "data": base64.b64encode(b"OggS...").decode()})
    result = VOLCENGINE_SPEECH_UP.parse(Answer(200, {}, ok), request(format="opus"), target(app_id="a"), None)
    assert result.audio == b"OggS..." and result.usage.characters == 9 and result.usage.estimated


def test_volcengine_v3_stream_needs_its_end_code() -> None:
    options = {"app_id": "a", "resource_id": "seed-tts-1.0"}
    plan = VOLCENGINE_SPEECH_UP.audio_stream(request(format="mp3"), target(**options))
    assert plan is not None
    call, decoder = plan
    assert not call.auth and call.headers["X-Api-Access-Key"] == "secret-key"
    chunk = orjson.dumps({"code": 0, "data": base64.b64encode(b"mp3!").decode()}) + b"\n"
    assert decoder.feed(chunk) == b"mp3!"
    with pytest.raises(GatewayError, match="end code"):
        decoder.finish()
    plan = VOLCENGINE_SPEECH_UP.audio_stream(request(format="mp3"), target(**options))
    assert plan is not None
    decoder = plan[1]
    with pytest.raises(GatewayError, match="45000001"):
        decoder.feed(chunk + orjson.dumps({"code": 45000001, "message": "bad speaker"}) + b"\n")


def test_dashscope_downloads_the_url_without_the_key_and_reads_characters() -> None:
    answer = {"output": {"audio": {"url": "https://oss.example/a.wav", "data": ""}}, "usage": {"characters": 5}}
    step = DASHSCOPE_SPEECH_UP.parse(Answer(200, {}, orjson.dumps(answer)), request(format="wav"), target(), None)
    assert isinstance(step, Followup)
    assert (step.call.path, step.call.method, step.call.auth) == ("https://oss.example/a.wav", "GET", False)
    assert step.carry.characters == 5
    error = {"code": "InvalidParameter", "message": "bad voice", "request_id": "r"}
    with pytest.raises(GatewayError, match="InvalidParameter"):
        DASHSCOPE_SPEECH_UP.parse(Answer(200, {}, orjson.dumps(error)), request(), target(), None)


def test_gemini_reads_audio_tokens_and_leaves_mp3_to_be_transcoded() -> None:
    pcm = b"\x00\x01" * 2400
    answer = {
        "candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "audio/L16;codec=pcm;rate=24000",
                                                              "data": base64.b64encode(pcm).decode()}}]}}],
        "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 40,
                          "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 40}]},
    }  # fmt: skip
    result = GEMINI_SPEECH_UP.parse(Answer(200, {}, orjson.dumps(answer)), request(), target(), None)
    assert result.heavy and result.pcm_rate == 24000 and result.format == "mp3"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.audio_output_tokens) == (6, 40, 40)
    body, content_type = OPENAI_SPEECH_IN.encode(result, request(), "public")
    assert content_type == b"audio/mpeg"
    info = sf.info(io.BytesIO(body))
    assert info.samplerate == 24000 and info.frames > 0


def test_elevenlabs_character_cost_header_is_the_usage() -> None:
    plan = ELEVENLABS_SPEECH_UP.audio_stream(request(format="pcm"), target("eleven_v3"))
    assert plan is not None
    call, decoder = plan
    assert call.path.endswith("?output_format=pcm_24000")
    decoder.begin({"character-cost": "12"})
    assert decoder.feed(b"\x00\x00") == b"\x00\x00" and decoder.finish() == b""
    assert decoder.usage.characters == 12 and not decoder.usage.estimated
    assert ELEVENLABS_SPEECH_UP.audio_stream(request(format="flac"), target()) is None
