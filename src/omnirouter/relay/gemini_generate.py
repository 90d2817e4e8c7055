"""Gemini's ``generateContent`` / ``streamGenerateContent`` as an operation of the lifecycle: chat, or
media when the request asks for images or speech of a model a non-Gemini upstream makes them with.

A google-genai client asks images with ``responseModalities: ["IMAGE"]`` (or ``["TEXT", "IMAGE"]``) and
speech with ``["AUDIO"]`` on the same route as chat.  ``GeminiGenerateOperation`` wraps the
``ChatOperation`` the route builds and keeps the lifecycle contract (``relay/operation.py``):

- ``read``: the chat operation reads and checks the body; the only extra work is a look at its
  ``responseModalities`` (``protocols/media/gemini_generate_in.media_output``).  An ordinary chat
  request ends there: every later call goes straight to the chat operation.
- ``ready``: once the planned attempts are known, each is served as media when its channel does not
  speak Gemini (or the model is Imagen, which has no ``generateContent``), its provider has the image
  or speech codec, and the model is a media model of that provider (``providers/media_models.py``).
  Those attempts get a ``MediaOperation`` with the body decoded by the Gemini-side codec
  (``gemini_images_in.py`` / ``gemini_speech_in.py``; a bad body is a 400 here, before any reservation).
  The other attempts stay chat (Gemini channels relay the body as it is).  When the media decode fails
  and chat attempts remain, those serve the request alone.
- ``bound``: the media budget, the chat one, or the widest of both for a plan that mixes them.
- ``run``: each attempt by the operation it belongs to.

A streamed call served as media is answered with the whole result as one event (one SSE event, or the
one element of a JSON array).
"""

from __future__ import annotations

from typing import Any

from omnirouter.ir import Budget, GatewayError
from omnirouter.ir.media import ImageRequest
from omnirouter.protocols.base import ProtocolName
from omnirouter.protocols.media.gemini_generate_in import GeminiFraming, MediaOutput, media_output
from omnirouter.protocols.media.gemini_images_in import GeminiImagesInbound
from omnirouter.protocols.media.gemini_speech_in import GeminiSpeechInbound
from omnirouter.providers import Capability
from omnirouter.providers.media_models import is_imagen, media_model
from omnirouter.relay.chat import ChatOperation
from omnirouter.relay.media import MediaOperation
from omnirouter.relay.operation import Exchange, Inbound
from omnirouter.routing import Attempt
from omnirouter.storage import KeyRecord
from omnirouter.transport import UpstreamClient

__all__ = ["GeminiGenerateOperation", "serves_as_media"]

_CAPABILITY = {MediaOutput.IMAGE: Capability.IMAGE_GENERATION, MediaOutput.AUDIO: Capability.SPEECH}


def serves_as_media(output: MediaOutput, attempt: Attempt) -> bool:
    """Whether ``attempt`` makes the media ``output`` asks through its provider's media codec."""
    capability = _CAPABILITY[output]
    spec = attempt.channel.spec
    if capability not in spec.media:
        return False
    model = attempt.upstream_model
    if attempt.protocol is ProtocolName.GEMINI:  # Gemini makes images and speech itself, except Imagen
        return output is MediaOutput.IMAGE and is_imagen(model)
    if not spec.chats:
        return True
    return media_model(capability, model, attempt.channel.options.get("media_models", ""))


def _widest(one: Budget, other: Budget) -> Budget:
    """A budget covering both (a plan whose attempts are served by different operations)."""
    out = None if one.max_output is None or other.max_output is None else max(one.max_output, other.max_output)
    return Budget(
        input_bytes=max(one.input_bytes, other.input_bytes),
        max_output=out,
        choices=max(one.choices, other.choices),
        images=max(one.images, other.images),
        seconds=max(one.seconds, other.seconds),
        characters=max(one.characters, other.characters),
        calls=max(one.calls, other.calls),
        image_size=one.image_size if one.image_size == other.image_size else "",
        image_quality=one.image_quality if one.image_quality == other.image_quality else "",
    )


class GeminiGenerateOperation:
    """One ``generateContent`` request (an ``Operation``): chat, media, or each attempt by its kind."""

    __slots__ = ("_body_size", "_chat", "_client", "_framing", "_has_chat", "_media", "_media_ids", "_output")

    def __init__(self, chat: ChatOperation, client: UpstreamClient, framing: GeminiFraming) -> None:
        """``chat`` is the route's chat operation; ``framing`` how a media answer is written."""
        self._chat = chat
        self._client = client
        self._framing = framing
        self._output: MediaOutput | None = None
        self._media: MediaOperation[Any, Any] | None = None
        self._media_ids: frozenset[int] = frozenset()
        self._has_chat = True
        self._body_size = 0

    @property
    def protocol(self) -> str:
        return self._chat.protocol

    @property
    def body_limit(self) -> int | None:
        return self._chat.body_limit

    def encode_error(self, error: GatewayError) -> tuple[int, bytes]:
        media = self._media
        return media.encode_error(error) if media is not None else self._chat.encode_error(error)

    async def read(self, body: bytes, key: KeyRecord) -> Inbound:
        inbound = await self._chat.read(body, key)
        self._output = media_output(self._chat.body)
        self._body_size = len(body)
        return inbound

    def ready(self, attempts: list[Attempt]) -> list[Attempt]:
        output = self._output
        if output is None:
            return self._chat.ready(attempts)
        media = [attempt for attempt in attempts if serves_as_media(output, attempt)]
        if not media:
            return self._chat.ready(attempts)
        chosen = {id(attempt) for attempt in media}
        others = [attempt for attempt in attempts if attempt.channel.spec.chats and id(attempt) not in chosen]
        try:
            operation, media = self._media_for(output, media)
        except GatewayError:
            if not others:
                raise
            return self._chat.ready(others)
        chat: list[Attempt] = []
        if others:
            try:
                chat = self._chat.ready(others)
            except GatewayError:  # the body cannot be translated for them: the media attempts serve it
                chat = []
        self._media = operation
        self._media_ids = frozenset(id(attempt) for attempt in media)
        self._has_chat = bool(chat)
        kept = self._media_ids | {id(attempt) for attempt in chat}
        return [attempt for attempt in attempts if id(attempt) in kept]

    def _media_for(
        self, output: MediaOutput, attempts: list[Attempt]
    ) -> tuple[MediaOperation[Any, Any], list[Attempt]]:
        """The media operation with the body decoded, and the attempts that can serve it (a 400 when the
        body is bad for these upstreams, or none of them can: an edit of a model that only generates)."""
        model = self._chat.model
        operation: MediaOperation[Any, Any]
        if output is MediaOutput.IMAGE:
            images = GeminiImagesInbound(self._framing)
            request: ImageRequest = images.decode_object(self._chat.body, model)
            capability = Capability.IMAGE_EDIT if request.edit else Capability.IMAGE_GENERATION
            operation = MediaOperation(capability, images, self._client, path_model=model)
            operation.adopt(request, self._body_size)
        else:
            speech = GeminiSpeechInbound(self._framing)
            operation = MediaOperation(Capability.SPEECH, speech, self._client, path_model=model)
            operation.adopt(speech.decode_object(self._chat.body, model), self._body_size)
        return operation, operation.ready(attempts)

    def bound(self) -> Budget:
        media = self._media
        if media is None:
            return self._chat.bound()
        if not self._has_chat:
            return media.bound()
        return _widest(self._chat.bound(), media.bound())

    async def run(self, exchange: Exchange, attempt: Attempt, upstream_key: str) -> None:
        media = self._media
        if media is not None and id(attempt) in self._media_ids:
            await media.run(exchange, attempt, upstream_key)
        else:
            await self._chat.run(exchange, attempt, upstream_key)
