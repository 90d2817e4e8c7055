"""A google-genai client asking ``generateContent`` for speech (``responseModalities: ["AUDIO"]``) of a TTS
model served by a speech upstream that does not speak Gemini: OpenAI (tts-1, gpt-4o-mini-tts), MiniMax,
Volcengine, DashScope, ElevenLabs (docs/media.md, "Gemini-speaking client → OpenAI TTS upstream").

The text parts of the user turns are the text (joined by newlines); ``systemInstruction`` text is the
style ``instructions``; ``speechConfig.languageCode`` the language.  The voice
(``speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName``) is required (no default is invented): a
Gemini voice of the voice table (``voices.py``) is sent as its OpenAI name, which each upstream codec
maps to its own voice; an OpenAI voice name or a vendor's own voice id goes on as it is; a Gemini voice
without an equivalent is a 400 naming ``voiceName``.  ``multiSpeakerVoiceConfig`` has no equivalent
outside Gemini: a 400.

The upstream is asked for ``pcm`` (24 kHz 16-bit mono): the answer is Gemini's
``inlineData {mimeType: "audio/L16;codec=pcm;rate=24000", data}``, ``finishReason: STOP``, with
``usageMetadata`` (AUDIO output tokens) when the upstream counted tokens.
"""

from __future__ import annotations

import base64
from typing import Any

from omnirouter.http.json_body import parse_json_object
from omnirouter.ir import Budget, ErrorKind, GatewayError
from omnirouter.ir.media import SpeechRequest, SpeechResult
from omnirouter.protocols.gemini.errors import encode_error
from omnirouter.protocols.media.audio import SPEECH_RATE
from omnirouter.protocols.media.gemini_generate_in import (
    GeminiFraming,
    client_field,
    field,
    invalid,
    media_output,
    usage_metadata,
    user_parts,
)
from omnirouter.protocols.media.speech import characters
from omnirouter.protocols.media.voices import GEMINI_VOICES, OPENAI_VOICES, VOICE_TABLE

__all__ = ["PCM_MIME", "GeminiSpeechInbound"]

PCM_MIME = f"audio/L16;codec=pcm;rate={SPEECH_RATE}"
_SPEECH = "generationConfig.speechConfig"
_VOICE = f"{_SPEECH}.voiceConfig.prebuiltVoiceConfig.voiceName"
_OPENAI_OF_GEMINI = {gemini.lower(): openai for openai, gemini in VOICE_TABLE["gemini"].items()}
_GEMINI_LOWER = frozenset(name.lower() for name in GEMINI_VOICES)
_FIELDS = {"voice": _VOICE, "input": "contents", "instructions": "systemInstruction",
           "language": f"{_SPEECH}.languageCode"}  # fmt: skip


def _text(body: dict[str, Any]) -> str:
    texts: list[str] = []
    for path, part in user_parts(body):
        text = part.get("text")
        if not isinstance(text, str):
            raise invalid("only text parts can be spoken by this model.", path)
        texts.append(text)
    joined = "\n".join(text for text in texts if text.strip())
    if not joined.strip():
        raise invalid("a text part with the text to speak is required.", "contents")
    return joined


def _instructions(body: dict[str, Any]) -> str | None:
    system = field(body, "systemInstruction", "system_instruction")
    if system is None:
        return None
    parts = system.get("parts") if isinstance(system, dict) else None
    if not isinstance(parts, list) or not all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts):
        raise invalid("must be a content of text parts.", "systemInstruction")
    return "\n".join(p["text"] for p in parts if p["text"].strip()) or None


def _voice(speech: dict[str, Any]) -> str:
    if field(speech, "multiSpeakerVoiceConfig", "multi_speaker_voice_config") is not None:
        raise invalid(
            "several speakers can only be voiced by Gemini TTS models; this model speaks with one voice "
            "(set voiceConfig.prebuiltVoiceConfig.voiceName).",
            f"{_SPEECH}.multiSpeakerVoiceConfig",
        )
    voice_config = field(speech, "voiceConfig", "voice_config")
    prebuilt = (
        field(voice_config, "prebuiltVoiceConfig", "prebuilt_voice_config") if isinstance(voice_config, dict) else None
    )
    name = field(prebuilt, "voiceName", "voice_name") if isinstance(prebuilt, dict) else None
    if not isinstance(name, str) or not name:
        raise invalid("is required: a Gemini voice (Kore, Puck, ...) or one of the model's own voices.", _VOICE)
    lower = name.lower()
    if lower in OPENAI_VOICES:
        return lower
    mapped = _OPENAI_OF_GEMINI.get(lower)
    if mapped is not None:
        return mapped
    if lower in _GEMINI_LOWER:
        choices = ", ".join(VOICE_TABLE["gemini"].values())
        raise invalid(f"the Gemini voice '{name}' has no equivalent for this model; use one of {choices}.", _VOICE)
    return name  # a vendor's own voice id: its upstream codec checks it


class GeminiSpeechInbound:
    """The client side: a generateContent body (``decode_object`` once the route parsed it)."""

    protocol = "gemini"

    def __init__(self, framing: GeminiFraming = GeminiFraming.PLAIN) -> None:
        self.framing = framing

    def decode(self, body: bytes, content_type: str, model: str | None) -> SpeechRequest:
        return self.decode_object(parse_json_object(body), model or "")

    def decode_object(self, body: dict[str, Any], model: str) -> SpeechRequest:
        """The request of a parsed body for the model the URL names (a 400 naming the bad field)."""
        if media_output(body) is None:
            raise invalid("must ask for AUDIO output only (['AUDIO']).", "generationConfig.responseModalities")
        config = field(body, "generationConfig", "generation_config")
        assert isinstance(config, dict)
        speech = field(config, "speechConfig", "speech_config")
        if not isinstance(speech, dict):
            raise invalid("is required with voiceConfig.prebuiltVoiceConfig.voiceName.", _SPEECH)
        voice = _voice(speech)
        language = field(speech, "languageCode", "language_code")
        if language is not None and not isinstance(language, str):
            raise invalid("must be a BCP-47 language code.", f"{_SPEECH}.languageCode")
        text = _text(body)
        return SpeechRequest(
            model=model,
            text=text,
            voice=voice,
            format="pcm",
            instructions=_instructions(body),
            language=language or None,
        )

    def budget(self, request: SpeechRequest, body_size: int) -> Budget:
        return Budget(input_bytes=body_size, max_output=0, characters=characters(request.text))

    def encode(self, result: SpeechResult, request: SpeechRequest, public_model: str) -> tuple[bytes, bytes]:
        if result.format != "pcm" or result.pcm_rate not in (None, SPEECH_RATE):
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream did not return 24 kHz PCM audio")
        if not result.audio:
            raise GatewayError(ErrorKind.UPSTREAM, "the upstream returned no audio")
        part = {"inlineData": {"mimeType": PCM_MIME, "data": base64.b64encode(result.audio).decode("ascii")}}
        answer: dict[str, Any] = {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
            "modelVersion": public_model,
        }
        meta = usage_metadata(result.usage, "AUDIO")
        if meta is not None:
            answer["usageMetadata"] = meta
        return self.framing.frame(answer)

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        """Gemini's error shape; an upstream codec's refusal names the client's own field."""
        return encode_error(client_field(error, _FIELDS))
