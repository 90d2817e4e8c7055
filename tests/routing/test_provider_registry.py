"""The provider registry is complete: every kind has a spec, every protocol a codec and a capability,
and every (provider, capability) endpoint is answered by the mock upstream with the provider's auth."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest

from omnirouter.ir import ChatRequest, Message, TextPart
from omnirouter.mock_upstream import MockUpstream
from omnirouter.protocols.base import ProtocolName
from omnirouter.protocols.openai_chat.vendor_codec import VendorChatCodec
from omnirouter.protocols.registry import CODECS, codec_for
from omnirouter.providers import CAPABILITY_PROTOCOLS, PROVIDERS, Capability, ProviderKind, capability_of
from omnirouter.providers.vendors import VENDORS

# Capabilities no provider serves yet: each leaves this set with its codec, provider entries and mock routes.
NOT_YET_SERVED = {
    Capability.REALTIME,
}


def test_every_kind_is_registered_once_with_its_own_spec() -> None:
    assert set(PROVIDERS) == set(ProviderKind)
    for kind, spec in PROVIDERS.items():
        assert spec.kind is kind
        if spec.chats:
            assert capability_of(spec.protocol) in spec.capabilities, kind
        assert spec.endpoints.keys() <= CAPABILITY_PROTOCOLS.keys(), kind  # endpoints are chat; media have codecs
        assert spec.media.keys().isdisjoint(CAPABILITY_PROTOCOLS), kind


def test_every_protocol_has_a_codec_a_keepalive_and_a_capability() -> None:
    assert set(CODECS) == set(ProtocolName)
    assert set(CAPABILITY_PROTOCOLS.values()) == set(ProtocolName)
    for protocol in ProtocolName:
        assert codec_for(protocol).name is protocol
        assert codec_for(protocol).keepalive.endswith(b"\n")
        assert CAPABILITY_PROTOCOLS[capability_of(protocol)] is protocol


def test_every_capability_is_served_or_known_to_be_pending() -> None:
    served = {capability for spec in PROVIDERS.values() for capability in spec.capabilities}
    assert served.isdisjoint(NOT_YET_SERVED)
    assert served | NOT_YET_SERVED == set(Capability)


ENDPOINTS = [(kind, capability) for kind, spec in PROVIDERS.items() for capability in sorted(spec.endpoints)]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("kind", "capability"), ENDPOINTS)
async def test_every_endpoint_is_answered_by_the_mock_with_the_providers_auth(
    mock_upstream: MockUpstream, kind: ProviderKind, capability: Capability, stream: bool
) -> None:
    spec = PROVIDERS[kind]
    protocol = CAPABILITY_PROTOCOLS[capability]
    request = ChatRequest(
        model="registry-check", messages=[Message(role="user", content=[TextPart(text="hi")])], stream=stream
    )
    vendor = VENDORS.get(kind)
    codec = VendorChatCodec(vendor.dialect) if vendor is not None else codec_for(protocol)
    body = orjson.dumps(codec.encode_request(request))
    if vendor is not None:  # the mock serves each chat vendor under /{provider} + its base URL's path
        base = vendor.chat_base(f"{mock_upstream.url}/{kind.value}{urlsplit(vendor.base_url).path}")
    else:
        base = mock_upstream.url + urlsplit(spec.default_base_url).path  # OpenAI's base URL includes /v1
    url = spec.endpoint_url(protocol, base, "registry-check", stream).replace("{api_version}", "2025-04-01-preview")
    headers = {"content-type": "application/json", **spec.fixed_headers, **spec.auth_headers("sk-registry")}
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        answer = await response.read()
        assert response.status == 200, answer[:300]
        expected = "text/event-stream" if stream else "application/json"
        assert response.content_type == expected
    seen = mock_upstream.requests[-1]
    assert seen.path.startswith(urlsplit(url).path)
