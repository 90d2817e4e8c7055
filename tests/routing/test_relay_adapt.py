"""Fitting a translated request to its upstream: output caps and reasoning controls."""

from __future__ import annotations

import msgspec

from omnirouter.config import ChannelConfig
from omnirouter.ir import ChatRequest, ReasoningConfig
from omnirouter.relay.adapt import fit_to_upstream
from omnirouter.routing import Channel, plan


def attempt_for(upstream_model: str, **extra: object):  # type: ignore[no-untyped-def]
    config = msgspec.convert(
        {
            "name": "c",
            "provider": "openai",
            "base_url": "http://x/v1",
            "api_keys": ["k"],
            "models": ["m"],
            "model_map": {"m": upstream_model},
            **extra,
        },
        ChannelConfig,
    )
    return plan("m", [Channel(config)])[0]


REQUEST = ChatRequest(model="m", messages=[], max_tokens=32000, reasoning=ReasoningConfig(effort="high"))


def test_max_tokens_clamped_to_the_models_cap_or_the_channels() -> None:
    assert fit_to_upstream(REQUEST, attempt_for("gpt-4o-mini")).max_tokens == 16384
    assert fit_to_upstream(REQUEST, attempt_for("claude-sonnet-4-5")).max_tokens == 32000
    assert fit_to_upstream(REQUEST, attempt_for("my-llama", max_output_tokens=4096)).max_tokens == 4096
    assert fit_to_upstream(REQUEST, attempt_for("my-llama")).max_tokens == 32000


def test_reasoning_dropped_only_for_models_known_to_refuse_it() -> None:
    assert fit_to_upstream(REQUEST, attempt_for("gpt-4o-mini")).reasoning is None
    assert fit_to_upstream(REQUEST, attempt_for("gemini-2.0-flash")).reasoning is None
    assert fit_to_upstream(REQUEST, attempt_for("o3-mini")).reasoning == ReasoningConfig(effort="high")
    assert fit_to_upstream(REQUEST, attempt_for("my-llama")).reasoning == ReasoningConfig(effort="high")


def test_image_models_are_asked_for_text_and_images_unless_the_client_named_modalities() -> None:
    plain = ChatRequest(model="m", messages=[])
    assert fit_to_upstream(plain, attempt_for("gemini-2.5-flash-image")).modalities == ["text", "image"]
    assert fit_to_upstream(plain, attempt_for("gemini-3-pro-image-preview")).modalities == ["text", "image"]
    assert fit_to_upstream(plain, attempt_for("google/gemini-2.5-flash-image")).modalities == ["text", "image"]
    assert fit_to_upstream(plain, attempt_for("gemini-2.5-flash")).modalities is None
    assert fit_to_upstream(plain, attempt_for("gpt-4o")).modalities is None
    flagged = attempt_for("my-banana", options={"image_models": "other, my-ban*"})
    assert fit_to_upstream(plain, flagged).modalities == ["text", "image"]
    only_image = ChatRequest(model="m", messages=[], modalities=["image"])
    assert fit_to_upstream(only_image, attempt_for("gemini-2.5-flash-image")).modalities == ["image"]
