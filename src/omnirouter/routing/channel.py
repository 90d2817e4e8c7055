"""A channel at run time: an upstream with its upstream keys, models, limits and health, built once from config."""

from __future__ import annotations

from collections.abc import Hashable
from urllib.parse import quote

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from omnirouter.config.schema import BreakerConfig, ChannelConfig, GatewayConfig
from omnirouter.ir.model_patterns import ModelPatterns
from omnirouter.protocols.anthropic.vendor_codec import VendorAnthropicCodec
from omnirouter.protocols.base import Codec, ProtocolName
from omnirouter.protocols.openai_chat.vendor_codec import VendorChatCodec
from omnirouter.protocols.registry import codec_for
from omnirouter.providers import ProviderSpec, channel_spec, unreachable_in
from omnirouter.providers.vendors import ChatVendor, ThinkingAlias, chat_vendor
from omnirouter.routing.breaker import CircuitBreaker
from omnirouter.routing.upstream_keys import UpstreamKeyPool
from omnirouter.transport.client import call_timeouts


class Channel:
    """One configured upstream.  Its upstream keys (``api_keys`` in the config) rotate round robin in
    ``upstream_keys``; models may be glob patterns.

    ``breaker`` and ``in_flight`` are this worker's view of the channel's health and load.
    """

    __slots__ = (
        "_attempts",
        "_headers_by_key",
        "_urls",
        "api_keys",
        "api_version",
        "base_url",
        "breaker",
        "chat_base_url",
        "chat_codec",
        "extra_headers",
        "first_byte_timeout",
        "idle_timeout",
        "in_flight",
        "max_body_bytes",
        "max_concurrency",
        "max_error_bytes",
        "max_event_bytes",
        "max_output_tokens",
        "media_calls",
        "model_map",
        "models",
        "name",
        "options",
        "plain_timeout",
        "priority",
        "responses_models",
        "spec",
        "timeout",
        "total_timeout",
        "upstream_keys",
        "vendor",
        "weight",
    )

    def __init__(
        self, config: ChannelConfig, breaker: BreakerConfig | None = None, defaults: GatewayConfig | None = None
    ) -> None:
        self.name = config.name
        # ``protocol: anthropic`` on a vendor: Anthropic Messages at its Anthropic-compatible endpoint (a
        # config the loader refused otherwise never gets here).
        spec = channel_spec(config.provider, config.protocol)
        if spec is None:
            raise ValueError(f"channel {config.name!r}: {unreachable_in(config.provider, config.protocol)}")
        self.spec: ProviderSpec = spec
        self.base_url = (config.base_url or self.spec.default_base_url).rstrip("/")
        # An OpenAI-compatible vendor (providers/vendors.py): chat under its own base, in its own dialect
        # (one codec per channel, so the dialect is looked up once).
        vendor = self.vendor = chat_vendor(config.provider)
        self.chat_base_url = self.base_url
        self.chat_codec: Codec | None = None
        if vendor is not None and self.spec.protocol is ProtocolName.OPENAI_CHAT:
            self.chat_base_url = vendor.chat_base(config.base_url)
            self.chat_codec = VendorChatCodec(vendor.dialect)
        elif vendor is not None and self.spec.protocol is ProtocolName.ANTHROPIC:
            rules = vendor.anthropic_rules()
            if rules.changes_requests:
                self.chat_codec = VendorAnthropicCodec(rules)
        self.api_version = config.options.get("api_version") or (vendor.api_version if vendor is not None else None)
        self.api_keys = tuple(config.api_keys)
        self.upstream_keys = UpstreamKeyPool(self.api_keys)
        self.models = ModelPatterns(config.models)
        self.model_map = dict(config.model_map)
        self.responses_models = ModelPatterns(config.responses_models)
        self.max_output_tokens = config.max_output_tokens
        self.priority = config.priority
        self.weight = config.weight
        self.extra_headers = {k.lower(): v for k, v in config.headers.items()}
        self.options = dict(config.options)
        self._headers_by_key: dict[str, CIMultiDictProxy[str]] = {}
        self._urls: dict[tuple[ProtocolName, str, bool], URL] = {}
        self._attempts: dict[str, Attempt] = {}
        # The transport's media calls under ``base_url``: their URL and headers, built once per call shape
        # (transport/media_call.py), so the HTTP/1.1 client encodes their head once; gone with the channel.
        self.media_calls: dict[Hashable, tuple[URL, CIMultiDictProxy[str]]] = {}
        # The transport's timers for connecting (and a plain call's silences), built once here.
        self.timeout, self.plain_timeout = call_timeouts(config.connect_timeout, config.first_byte_timeout)
        self.first_byte_timeout = config.first_byte_timeout
        self.idle_timeout = config.idle_timeout
        self.total_timeout = config.total_timeout
        # What may be buffered from the upstream: a plain answer, an error body, one stream event.
        limits = defaults or _DEFAULTS
        self.max_body_bytes = config.max_upstream_body_bytes or limits.max_upstream_body_bytes
        self.max_error_bytes = config.max_upstream_error_bytes or limits.max_upstream_error_bytes
        self.max_event_bytes = config.max_event_bytes or limits.max_event_bytes
        self.max_concurrency = config.max_concurrency
        self.in_flight = 0
        self.breaker = CircuitBreaker(config.breaker or breaker or BreakerConfig())

    def serves(self, model: str) -> bool:
        """Whether this channel offers the public model ``model`` (or a thinking alias of one it offers)."""
        return model in self.models or self._alias(model) is not None

    def _alias(self, model: str) -> tuple[str, ThinkingAlias] | None:
        """``(base model, alias)`` when ``model`` is a vendor's thinking alias (``…-nothinking``) of a model
        this channel offers, and not a name the channel lists or maps itself."""
        vendor: ChatVendor | None = self.vendor
        if vendor is None or not vendor.thinking_aliases or model in self.models.exact or model in self.model_map:
            return None
        found = vendor.thinking_alias(model, self.upstream_model)
        if found is None or found[0] not in self.models:
            return None
        return found

    def upstream_model(self, model: str) -> str:
        """The name the upstream knows ``model`` by."""
        return self.model_map.get(model, model)

    def protocol_for(self, model: str) -> ProtocolName:
        """The protocol this channel speaks for ``model`` (OpenAI channels may mark models as Responses-only)."""
        if model in self.responses_models:
            return ProtocolName.OPENAI_RESPONSES
        return self.spec.protocol

    def busy(self) -> bool:
        """Whether the channel is at its concurrency limit."""
        return self.max_concurrency is not None and self.in_flight >= self.max_concurrency

    def headers(self, upstream_key: str) -> CIMultiDictProxy[str]:
        """Request headers for one call with ``upstream_key`` (built once per key, read-only)."""
        headers = self._headers_by_key.get(upstream_key)
        if headers is None:
            built = {"content-type": "application/json", **self.spec.fixed_headers, **self.extra_headers}
            built.update(self.spec.auth_headers(upstream_key))
            headers = self._headers_by_key[upstream_key] = CIMultiDictProxy(CIMultiDict(built))
        return headers

    def url(self, protocol: ProtocolName, upstream_model: str, stream: bool) -> URL:
        """The generation endpoint for ``upstream_model`` (parsed once per model, protocol and streaming)."""
        cache_key = (protocol, upstream_model, stream)
        url = self._urls.get(cache_key)
        if url is None:
            if len(self._urls) >= _MAX_CACHED:  # glob channels may see unbounded model names
                self._urls.clear()
            url = self._urls[cache_key] = URL(self.endpoint_url(protocol, upstream_model, stream))
        return url

    def endpoint_url(self, protocol: ProtocolName, upstream_model: str, stream: bool) -> str:
        """The generation endpoint as text (a vendor's chat under its chat base, with Azure's api-version)."""
        base = self.chat_base_url if protocol is ProtocolName.OPENAI_CHAT else self.base_url
        url = self.spec.endpoint_url(protocol, base, upstream_model, stream)
        if self.api_version is not None and "{api_version}" in url:
            url = url.replace("{api_version}", quote(self.api_version, safe=""))
        return url

    def codec(self, protocol: ProtocolName) -> Codec:
        """The codec for calls in ``protocol`` on this channel (a vendor's dialect for its chat)."""
        if self.chat_codec is not None and protocol is self.spec.protocol:
            return self.chat_codec
        return codec_for(protocol)

    def attempt(self, model: str) -> Attempt:
        """The attempt of public ``model`` on this channel (immutable: made once per model)."""
        attempt = self._attempts.get(model)
        if attempt is None:
            if len(self._attempts) >= _MAX_CACHED:
                self._attempts.clear()
            upstream, alias = self.upstream_model(model), None
            found = self._alias(model)
            if found is not None:  # the base model, thinking switched by the name
                upstream, alias = self.upstream_model(found[0]), found[1]
            elif self.vendor is not None and model in self.model_map:  # mapped onto an alias name
                found = self.vendor.thinking_alias(upstream, lambda base: base)
                if found is not None:
                    upstream, alias = found
            attempt = self._attempts[model] = Attempt(
                channel=self,
                public_model=model,
                upstream_model=upstream,
                protocol=self.protocol_for(model),
                thinking=alias,
            )
        return attempt

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never reach a client or a log."""
        return self.api_keys


_MAX_CACHED = 1024  # per channel, of URLs and of attempts

_DEFAULTS = GatewayConfig()


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One try: a channel, the model name and protocol the upstream knows (the upstream key is picked when it
    runs); ``thinking``: the vendor's thinking alias the public name used (the request is then translated, its
    thinking switched as the name says)."""

    channel: Channel
    public_model: str
    upstream_model: str
    protocol: ProtocolName
    thinking: ThinkingAlias | None = None
