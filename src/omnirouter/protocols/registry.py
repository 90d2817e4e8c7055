"""The closed registry of protocol codecs and pass-through adapters."""

from __future__ import annotations

from typing import Final

from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.protocols.anthropic import ANTHROPIC
from omnirouter.protocols.base import Codec, ProtocolName
from omnirouter.protocols.gemini import GEMINI
from omnirouter.protocols.openai_chat import OPENAI_CHAT
from omnirouter.protocols.openai_responses import OPENAI_RESPONSES

CODECS: Final[dict[ProtocolName, Codec]] = {
    ProtocolName.OPENAI_CHAT: OPENAI_CHAT,
    ProtocolName.OPENAI_RESPONSES: OPENAI_RESPONSES,
    ProtocolName.ANTHROPIC: ANTHROPIC,
    ProtocolName.GEMINI: GEMINI,
}


def codec_for(protocol: ProtocolName) -> Codec:
    """The codec of ``protocol``; an internal error if it is not built yet."""
    codec = CODECS.get(protocol)
    if codec is None:
        raise GatewayError(ErrorKind.INTERNAL, f"protocol {protocol.value!r} is not supported yet")
    return codec
