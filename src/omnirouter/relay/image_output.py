"""Generated images written into the answer text as Markdown, for clients that only render ``content``.

A channel with ``options: {image_output: markdown}`` answers its translated chat clients this way
(new-api's form, ``![image](data:image/png;base64,...)``) instead of the protocol's own image field
(OpenAI Chat ``message.images``); never both, the base64 would be sent twice.
"""

from __future__ import annotations

import msgspec

from omnirouter.ir import ChatResponse, ImageDelta, ImagePart, Part, StreamEvent, TextDelta, TextPart
from omnirouter.protocols.base import StreamDecoder
from omnirouter.protocols.common import data_uri
from omnirouter.protocols.sse import SSEEvent
from omnirouter.routing import Attempt

MARKDOWN = "markdown"


def wants_markdown(attempt: Attempt) -> bool:
    """Whether the attempt's channel writes images into the text."""
    return attempt.channel.options.get("image_output", "").strip().lower() == MARKDOWN


def markdown_image(data: str | None, media_type: str | None, url: str | None) -> str:
    """``![image](<url or data URL>)``."""
    return f"![image]({url if url is not None else data_uri(data or '', media_type)})"


def _joined(text: str, after_text: bool) -> str:
    return "\n\n" + text if after_text else text


def response_as_markdown(response: ChatResponse) -> ChatResponse:
    """The answer with every image part turned into Markdown text where it stood."""
    choices = []
    for choice in response.choices:
        if not any(isinstance(p, ImagePart) for p in choice.content):
            choices.append(choice)
            continue
        parts: list[Part] = []
        after_text = False
        for part in choice.content:
            if isinstance(part, ImagePart):
                if part.url is None and part.data is None:
                    continue
                part = TextPart(text=_joined(markdown_image(part.data, part.media_type, part.url), after_text))
            if isinstance(part, TextPart) and part.text:
                after_text = True
            parts.append(part)
        choices.append(msgspec.structs.replace(choice, content=parts))
    return msgspec.structs.replace(response, choices=choices)


class MarkdownImages:
    """A stream decoder whose image events come out as Markdown text deltas."""

    __slots__ = ("_decoder", "_texts")

    def __init__(self, decoder: StreamDecoder) -> None:
        self._decoder = decoder
        self._texts: set[int] = set()  # choices that have had text

    def _map(self, events: list[StreamEvent]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in events:
            if isinstance(event, ImageDelta):
                if event.url is None and event.data is None:
                    continue
                text = markdown_image(event.data, event.media_type, event.url)
                event = TextDelta(text=_joined(text, event.choice in self._texts), choice=event.choice)
            if isinstance(event, TextDelta) and event.text:
                self._texts.add(event.choice)
            out.append(event)
        return out

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        return self._map(self._decoder.feed(event))

    def finish(self) -> list[StreamEvent]:
        return self._map(self._decoder.finish())
