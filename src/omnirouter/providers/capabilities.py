"""The closed set of things an upstream can do, and the wire protocol each chat capability speaks."""

from __future__ import annotations

import enum
from typing import Final

from omnirouter.ir.task import TaskKind
from omnirouter.protocols.base import ProtocolName

__all__ = ["CAPABILITY_PROTOCOLS", "TASK_CAPABILITIES", "Capability", "capability_of"]


class Capability(enum.StrEnum):
    """One kind of call a provider serves (an endpoint of its API)."""

    CHAT = "chat"  # OpenAI Chat Completions
    RESPONSES = "responses"  # OpenAI Responses
    MESSAGES = "messages"  # Anthropic Messages
    GENERATE_CONTENT = "generate_content"  # Gemini generateContent / streamGenerateContent
    EMBEDDINGS = "embeddings"
    RERANK = "rerank"
    MODERATION = "moderation"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    IMAGE_GENERATION = "image_generation"
    IMAGE_EDIT = "image_edit"
    VIDEO_TASK = "video_task"
    IMAGE_TASK = "image_task"
    MUSIC_TASK = "music_task"
    MIDJOURNEY = "midjourney"
    REALTIME = "realtime"
    SEARCH = "search"


CAPABILITY_PROTOCOLS: Final[dict[Capability, ProtocolName]] = {
    Capability.CHAT: ProtocolName.OPENAI_CHAT,
    Capability.RESPONSES: ProtocolName.OPENAI_RESPONSES,
    Capability.MESSAGES: ProtocolName.ANTHROPIC,
    Capability.GENERATE_CONTENT: ProtocolName.GEMINI,
}
"""The chat capabilities and the codec each is spoken in; the others get codecs of their own kinds."""

_BY_PROTOCOL: Final = {protocol: capability for capability, protocol in CAPABILITY_PROTOCOLS.items()}


def capability_of(protocol: ProtocolName) -> Capability:
    """The chat capability spoken in ``protocol``."""
    return _BY_PROTOCOL[protocol]


TASK_CAPABILITIES: Final[dict[TaskKind, Capability]] = {
    TaskKind.VIDEO: Capability.VIDEO_TASK,
    TaskKind.IMAGE: Capability.IMAGE_TASK,
    TaskKind.MUSIC: Capability.MUSIC_TASK,
    TaskKind.MIDJOURNEY: Capability.MIDJOURNEY,
}
"""The capability under which a provider registers its codec for each kind of task (``ProviderSpec.tasks``)."""
