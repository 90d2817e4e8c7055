"""Usage in one convention for every protocol and kind of work: tokens and metered units, what was
used (``Usage``) and the most a request may use (``Budget``).  Billing prices these records."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec


class Usage(msgspec.Struct, kw_only=True):
    """Token counts (and metered units) in one convention for every protocol.

    ``input_tokens`` includes cached reads and cache writes; ``output_tokens``
    includes reasoning.  ``estimated`` marks counts the gateway computed itself.
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written with Anthropic's 1-hour TTL
    (the rest has the 5-minute TTL), priced by ``cache_write_1h``.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_1h_tokens: int = 0
    estimated: bool = False
    # Metered units beside tokens, for media and tasks: images made, seconds of audio or video,
    # characters spoken, calls made (searches, ...); priced by ``per_image`` / ``per_second`` /
    # ``per_1k_characters`` / ``per_call``.
    images: int = 0
    seconds: float = 0.0
    characters: int = 0
    calls: int = 0
    # Tokens by modality, each a part of ``input_tokens`` / ``output_tokens`` (the rest is text):
    # priced by ``image_input`` / ``image_output`` / ``audio_input`` / ``audio_output`` when set.
    image_input_tokens: int = 0
    image_output_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    # What a per-image price tier is chosen by (``per_image_tiers``): the size and quality made, "" unknown.
    image_size: str = ""
    image_quality: str = ""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def clamped(self) -> Usage:
        """This usage with every count in ``[0, MAX_TOKENS]`` (itself when it already is)."""
        if (
            0 <= self.input_tokens <= MAX_TOKENS
            and 0 <= self.output_tokens <= MAX_TOKENS
            and 0 <= self.cached_tokens <= MAX_TOKENS
            and 0 <= self.cache_write_tokens <= MAX_TOKENS
            and 0 <= self.reasoning_tokens <= MAX_TOKENS
            and 0 <= self.cache_write_1h_tokens <= MAX_TOKENS
        ):
            return self  # the common case: no allocation
        return msgspec.structs.replace(
            self,
            input_tokens=token_count(self.input_tokens),
            output_tokens=token_count(self.output_tokens),
            cached_tokens=token_count(self.cached_tokens),
            cache_write_tokens=token_count(self.cache_write_tokens),
            reasoning_tokens=token_count(self.reasoning_tokens),
            cache_write_1h_tokens=token_count(self.cache_write_1h_tokens),
        )


MAX_TOKENS = 2**31 - 1
"""The most tokens of one kind one request may report (the usage columns' range); more is clamped."""


def token_count(value: Any) -> int:
    """A token count from an upstream's JSON, clamped into ``[0, MAX_TOKENS]``.

    Integers, finite floats and decimal strings (Gemini's int64 fields) are read; anything else
    (null, NaN, a list, a bool) is 0.  Upstream usage is untrusted input: ``1e19`` or ``-5`` must
    neither crash an encoder nor reach the ledger.
    """
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if 0 <= value <= MAX_TOKENS else (0 if value < 0 else MAX_TOKENS)
    if isinstance(value, float):
        if not value > 0:  # also NaN
            return 0
        return MAX_TOKENS if value >= MAX_TOKENS else int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return MAX_TOKENS if len(value) > 10 else min(int(value), MAX_TOKENS)
    return 0


class Budget(NamedTuple):
    """The most one request may use, read by its operation before any upstream call.

    Billing turns it into a reservation: prompt tokens are bounded by ``input_bytes`` (the request's
    size; see ``billing/estimate.py``), output tokens by ``max_output`` (the limit the request sets
    itself, else the served model's cap) per choice, and metered units by their counts here.
    ``input_tokens`` are prompt tokens the body's size does not bound (uploaded images, counted by tiles
    rather than bytes), added to the size's bound.
    ``image_size`` / ``image_quality`` name the size and quality the images will have ("" any): the images
    are reserved at the dearest per-image tier those allow (``Price.most_per_image``).
    """

    input_bytes: int
    max_output: int | None = None
    choices: int = 1
    images: int = 0
    seconds: float = 0.0
    characters: int = 0
    calls: int = 0
    image_size: str = ""
    image_quality: str = ""
    input_tokens: int = 0
