"""What well-known model families accept: their largest output, and whether they take reasoning controls.

Claude Code asks for ``max_tokens: 32000`` whatever model it is routed to; a model
with a smaller cap would refuse the request.  A channel's ``max_output_tokens``
overrides this table.  First match wins.
"""

from __future__ import annotations

from functools import lru_cache

from omnirouter.ir.model_patterns import ModelPatterns, ModelTable

OUTPUT_LIMITS: tuple[tuple[str, int], ...] = (
    ("gpt-4o*", 16384),
    ("chatgpt-4o*", 16384),
    ("gpt-4.1*", 32768),
    ("gpt-4-turbo*", 4096),
    ("gpt-3.5*", 4096),
    ("gpt-5*", 128000),
    ("o1-mini*", 65536),
    ("o1*", 100000),
    ("o3*", 100000),
    ("o4*", 100000),
    ("claude-opus-4*", 32000),
    ("claude-sonnet-4*", 64000),
    ("claude-haiku-4*", 64000),
    ("claude-3-7*", 64000),
    ("claude-3-5*", 8192),
    ("claude-3*", 4096),
    ("gemini-1.5*", 8192),
    ("gemini-2.0*", 8192),
    ("gemini-*", 65536),
    ("deepseek-chat*", 8192),
    ("deepseek-reasoner*", 65536),
    ("qwen*", 8192),
)

_OUTPUT_LIMITS = ModelTable(OUTPUT_LIMITS)


@lru_cache(maxsize=4096)
def output_limit(model: str) -> int | None:
    """The output token cap of ``model`` (an upstream name), if its family is known."""
    return _OUTPUT_LIMITS.get(model.lower())


# Families that reject reasoning controls (``reasoning_effort``, ``thinking``, ``thinkingConfig``).
NO_REASONING: tuple[str, ...] = (
    "gpt-4o*",
    "chatgpt-4o*",
    "gpt-4.1*",
    "gpt-4-*",
    "gpt-3.5*",
    "claude-3-5*",
    "claude-3-haiku*",
    "claude-3-opus*",
    "claude-3-sonnet*",
    "gemini-1.5*",
    "gemini-2.0*",
    "deepseek-chat*",
)

_NO_REASONING = ModelPatterns(NO_REASONING)


@lru_cache(maxsize=4096)
def rejects_reasoning(model: str) -> bool:
    """Whether ``model`` (an upstream name) is known to refuse reasoning controls (unknown models: no)."""
    return model.lower() in _NO_REASONING


# Chat models that answer with images (Nano-Banana and its kin): asked for text and images when the
# client names no modalities (new-api's ``SupportedImagineModels``, docs/media.md).  A channel adds
# its own with ``options: {image_models: "<glob>,<glob>"}``.
IMAGE_OUTPUT: tuple[str, ...] = (
    "gemini-*-image*",
    "*/gemini-*-image*",  # aggregators' vendor-prefixed names (OpenRouter ``google/gemini-2.5-flash-image``)
    "gemini-2.0-flash-exp",
    "gemini-2.0-flash-exp-image-generation",
)

_IMAGE_OUTPUT = ModelPatterns(IMAGE_OUTPUT)


@lru_cache(maxsize=4096)
def makes_images(model: str, extra: str = "") -> bool:
    """Whether ``model`` (an upstream name) generates images, by the table or the channel's ``extra`` globs."""
    if model.lower() in _IMAGE_OUTPUT:
        return True
    globs = [g.strip() for g in extra.split(",") if g.strip()]
    return bool(globs) and model in ModelPatterns(globs)
