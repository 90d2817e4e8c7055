"""The server events of OpenAI's Realtime API in both generations, as the mock sends them.

GA (no ``OpenAI-Beta`` header) and beta (``OpenAI-Beta: realtime=v1``) differ in the session shape and in
the names of the output events (``reference/openai-openapi.json``; openai-python PR 2714):

=====================================  ============================================
GA                                     beta
=====================================  ============================================
``response.output_text.delta``         ``response.text.delta``
``response.output_audio.delta``        ``response.audio.delta``
``response.output_audio_transcript.*`` ``response.audio_transcript.*``
``conversation.item.added`` / ``done`` ``conversation.item.created``
content parts ``output_text``/…audio   ``text`` / ``audio``
=====================================  ============================================

``response.done`` carries ``usage {total_tokens, input_tokens, output_tokens, input_token_details
{cached_tokens, text_tokens, audio_tokens, image_tokens, cached_tokens_details {...}},
output_token_details {text_tokens, audio_tokens}}`` in both.
"""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    """A fresh id in OpenAI's style (``event_…``, ``resp_…``, ``item_…``, ``sess_…``)."""
    return f"{prefix}_mock{next(_ids):08d}"


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """A server event with its own ``event_id``."""
    return {"type": kind, "event_id": new_id("event"), **fields}


def session_object(model: str, beta: bool, settings: dict[str, Any]) -> dict[str, Any]:
    """The session as ``session.created`` / ``session.updated`` carry it, with ``settings`` applied."""
    if beta:
        base: dict[str, Any] = {
            "id": "",
            "object": "realtime.session",
            "model": model,
            "modalities": ["text", "audio"],
            "instructions": "",
            "voice": "alloy",
            "input_audio_format": "pcm16",
            "output_audio_format": "pcm16",
            "input_audio_transcription": None,
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 200},
            "tools": [],
            "tool_choice": "auto",
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
        }  # fmt: skip
    else:
        pcm = {"type": "audio/pcm", "rate": 24000}
        base = {
            "type": "realtime",
            "object": "realtime.session",
            "id": "",
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "",
            "audio": {
                "input": {"format": pcm, "transcription": None, "noise_reduction": None,
                          "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                                             "silence_duration_ms": 200}},
                "output": {"format": pcm, "voice": "marin", "speed": 1.0},
            },
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "expires_at": 0,
            "include": None,
        }  # fmt: skip
    base.update(settings)
    base["model"] = model
    return base


def output_modalities(session: dict[str, Any], response: dict[str, Any], beta: bool) -> list[str]:
    """What a response produces: the ``response.create`` override, else the session's."""
    field = "modalities" if beta else "output_modalities"
    chosen = response.get(field) or session.get(field) or (["text", "audio"] if beta else ["audio"])
    return [str(m) for m in chosen]


def usage_object(text_in: int, audio_in: int, cached: int, text_out: int, audio_out: int) -> dict[str, Any]:
    """``response.usage`` (cached tokens are a part of the input, taken from text first)."""
    cached_text = min(cached, text_in)
    cached_audio = min(cached - cached_text, audio_in)
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "cached_tokens": cached_text + cached_audio,
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def response_object(response_id: str, status: str, output: list[Any], usage: dict[str, Any] | None,
                    modalities: list[str], beta: bool) -> dict[str, Any]:  # fmt: skip
    """``response`` of ``response.created`` / ``response.done``."""
    body: dict[str, Any] = {
        "object": "realtime.response",
        "id": response_id,
        "status": status,
        "status_details": None,
        "output": output,
        "usage": usage,
        "metadata": None,
        "conversation_id": "conv_mock",
    }
    if beta:
        body["modalities"] = modalities
    else:
        body["output_modalities"] = modalities
        body["audio"] = {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}}
    return body


def names(beta: bool, audio: bool) -> tuple[str, str]:
    """The delta and done event names of a response's text stream (audio: the transcript)."""
    if audio:
        stem = "response.audio_transcript" if beta else "response.output_audio_transcript"
    else:
        stem = "response.text" if beta else "response.output_text"
    return f"{stem}.delta", f"{stem}.done"


def audio_names(beta: bool) -> tuple[str, str]:
    """The delta and done event names of a response's audio."""
    stem = "response.audio" if beta else "response.output_audio"
    return f"{stem}.delta", f"{stem}.done"


def part_type(beta: bool, audio: bool) -> str:
    """A content part's type: ``text`` / ``audio`` (beta) or ``output_text`` / ``output_audio`` (GA)."""
    if beta:
        return "audio" if audio else "text"
    return "output_audio" if audio else "output_text"


def error_event(message: str, error_type: str = "invalid_request_error", code: str | None = None,
                event_id: str | None = None, param: str | None = None) -> dict[str, Any]:  # fmt: skip
    """``{"type": "error", "error": {type, code, message, param, event_id}}``."""
    return event("error", error={"type": error_type, "code": code, "message": message, "param": param,
                                 "event_id": event_id})  # fmt: skip
