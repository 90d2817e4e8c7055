"""A channel at run time: an upstream with its keys, models and limits, built once from config."""

from __future__ import annotations

import fnmatch
import itertools

import aiohttp

from omnirouter.config.schema import ChannelConfig
from omnirouter.protocols.base import ProtocolName
from omnirouter.providers import ProviderSpec, provider_spec


class Channel:
    """One configured upstream.  Keys rotate round robin; models may be glob patterns."""

    __slots__ = (
        "_key_cycle",
        "api_keys",
        "base_url",
        "exact_models",
        "extra_headers",
        "max_output_tokens",
        "model_map",
        "model_patterns",
        "name",
        "priority",
        "responses_models",
        "spec",
        "timeout",
        "weight",
    )

    def __init__(self, config: ChannelConfig) -> None:
        self.name = config.name
        self.spec: ProviderSpec = provider_spec(config.provider)
        self.base_url = config.base_url.rstrip("/")
        self.api_keys = tuple(config.api_keys)
        self._key_cycle = itertools.cycle(self.api_keys)
        self.exact_models = frozenset(m for m in config.models if not _is_pattern(m))
        self.model_patterns = tuple(m for m in config.models if _is_pattern(m))
        self.model_map = dict(config.model_map)
        self.responses_models = tuple(config.responses_models)
        self.max_output_tokens = config.max_output_tokens
        self.priority = config.priority
        self.weight = config.weight
        self.extra_headers = {k.lower(): v for k, v in config.headers.items()}
        self.timeout = aiohttp.ClientTimeout(
            total=config.total_timeout,
            connect=config.connect_timeout,
            sock_read=config.first_byte_timeout,
        )

    def serves(self, model: str) -> bool:
        """Whether this channel offers the public model ``model``."""
        if model in self.exact_models:
            return True
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.model_patterns)

    def upstream_model(self, model: str) -> str:
        """The name the upstream knows ``model`` by."""
        return self.model_map.get(model, model)

    def protocol_for(self, model: str) -> ProtocolName:
        """The protocol this channel speaks for ``model`` (OpenAI channels may mark models as Responses-only)."""
        if self.responses_models and any(fnmatch.fnmatchcase(model, p) for p in self.responses_models):
            return ProtocolName.OPENAI_RESPONSES
        return self.spec.protocol

    def next_key(self) -> str:
        """The next upstream key in rotation."""
        return next(self._key_cycle)

    def headers(self, api_key: str) -> dict[str, str]:
        """Request headers for one call with ``api_key``."""
        headers = {"content-type": "application/json", **self.spec.fixed_headers, **self.extra_headers}
        headers.update(self.spec.auth_headers(api_key))
        return headers

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never reach a client or a log."""
        return self.api_keys


def _is_pattern(model: str) -> bool:
    return any(c in model for c in "*?[")
