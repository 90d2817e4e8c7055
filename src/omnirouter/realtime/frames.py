"""Reading relayed realtime frames: JSON checks, the model in ``session.update``, usage in ``response.done``.

Frames are relayed as they arrive; only two are looked into: a client's ``session.update`` whose
``session.model`` names a model gets the upstream's name for it (the only change the relay makes), and
an upstream ``response.done`` gives the response's usage (``reference/openai-openapi.json``
RealtimeResponse.usage): ``input_tokens`` (of which ``input_token_details.cached_tokens`` cached, with
``cached_tokens_details.audio_tokens`` of them audio, and ``audio_tokens`` / ``image_tokens`` /
``text_tokens``), ``output_tokens`` (``output_token_details.audio_tokens`` / ``text_tokens``).
"""

from __future__ import annotations

from typing import Any

import orjson

from omnirouter.ir import Usage
from omnirouter.ir.usage import token_count

__all__ = ["FrameError", "client_frame", "parse", "response_usage"]


class FrameError(Exception):
    """A frame the relay cannot pass on (not a JSON object); ends the session with 1007."""


def parse(data: str | bytes) -> dict[str, Any]:
    """The JSON object of a frame, or ``FrameError``."""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FrameError("a realtime frame must be a JSON event; this one is not JSON") from None
    if not isinstance(event, dict):
        raise FrameError("a realtime frame must be a JSON object")
    return event


def client_frame(data: str | bytes, upstream_model: str) -> tuple[str | bytes, dict[str, Any]]:
    """A client frame as it goes upstream (the model of a ``session.update`` mapped), and its event."""
    event = parse(data)
    if event.get("type") == "session.update":
        session = event.get("session")
        if isinstance(session, dict) and "model" in session and session["model"] != upstream_model:
            session["model"] = upstream_model
            encoded = orjson.dumps(event)
            return (encoded.decode() if isinstance(data, str) else encoded), event
    return data, event


def _details(parent: dict[str, Any], name: str) -> dict[str, Any]:
    found = parent.get(name)
    return found if isinstance(found, dict) else {}


def response_usage(event: dict[str, Any]) -> Usage | None:
    """The usage of a ``response.done`` event (None: none reported).

    In ``ir.Usage`` terms: ``cached_tokens`` are every cached input token (text, audio or image: the
    ``cached_input`` price), ``audio_input_tokens`` the audio input that was not cached (``audio_input``),
    ``audio_output_tokens`` the audio output (``audio_output``); the rest is text.
    """
    response = event.get("response")
    usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return None
    details_in = _details(usage, "input_token_details")
    details_out = _details(usage, "output_token_details")
    cached = token_count(details_in.get("cached_tokens"))
    cached_audio = token_count(_details(details_in, "cached_tokens_details").get("audio_tokens"))
    audio_in = token_count(details_in.get("audio_tokens"))
    return Usage(
        input_tokens=token_count(usage.get("input_tokens")),
        output_tokens=token_count(usage.get("output_tokens")),
        cached_tokens=cached,
        audio_input_tokens=max(audio_in - min(cached_audio, cached), 0),
        audio_output_tokens=token_count(details_out.get("audio_tokens")),
        image_input_tokens=0,
    )
