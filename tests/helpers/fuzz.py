"""Random mutation of JSON values, shared by the codecs' never-raise tests."""

from __future__ import annotations

import random
from typing import Any


def mutate(value: Any, rng: random.Random, pieces: list[Any], rate: float) -> Any:
    """``value`` with parts replaced by one of ``pieces`` or dropped, each with probability ``rate``."""
    if rng.random() < rate:
        return rng.choice(pieces)
    if isinstance(value, dict):
        return {k: mutate(v, rng, pieces, rate) for k, v in value.items() if rng.random() > rate}
    if isinstance(value, list):
        return [mutate(v, rng, pieces, rate) for v in value]
    return value
