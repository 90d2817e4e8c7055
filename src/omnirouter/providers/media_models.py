"""Which models of a provider that both chats and makes media are media models: a Gemini client's
``generateContent`` asking images or speech of one of them is served by the provider's image or speech
codec, not by its chat endpoint (``relay/gemini_generate.py``).  A provider that does not chat (Ark,
BFL, MiniMax, ...) serves every model of its channels that way.  A channel adds its own models with
``options: {media_models: "<glob>,<glob>"}``.
"""

from __future__ import annotations

from functools import lru_cache

from omnirouter.ir.model_patterns import ModelPatterns
from omnirouter.providers.capabilities import Capability

__all__ = ["IMAGE_MODELS", "SPEECH_MODELS", "is_imagen", "media_model"]

IMAGE_MODELS: tuple[str, ...] = (
    "gpt-image*", "chatgpt-image*", "dall-e*", "imagen*", "*seedream*", "*seededit*", "flux*", "wanx*",
    "*/gpt-image*", "*/dall-e*", "*/imagen*", "*/flux*",
)  # fmt: skip
SPEECH_MODELS: tuple[str, ...] = ("*tts*", "speech-*", "*/speech-*")

_PATTERNS = {
    Capability.IMAGE_GENERATION: ModelPatterns(IMAGE_MODELS),
    Capability.SPEECH: ModelPatterns(SPEECH_MODELS),
}


def is_imagen(model: str) -> bool:
    """Whether ``model`` (an upstream name) is Imagen: it has no ``generateContent``, only ``:predict``."""
    return "imagen" in model.lower()


@lru_cache(maxsize=4096)
def media_model(capability: Capability, model: str, extra: str = "") -> bool:
    """Whether ``model`` (an upstream name) is an image (``IMAGE_GENERATION``) or speech (``SPEECH``) model,
    by the tables or the channel's ``extra`` globs."""
    if model.lower() in _PATTERNS[capability]:
        return True
    globs = [g.strip() for g in extra.split(",") if g.strip()]
    return bool(globs) and model in ModelPatterns(globs)
