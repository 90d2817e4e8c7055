"""What each provider kind is beyond its protocol: where it lives, how it takes its upstream key, which
capabilities it serves at which paths.  Providers are data: an OpenAI-compatible vendor is one
entry of a few lines, not new code.

An endpoint path is a template under the channel's ``base_url`` (written as the provider's own SDK
spells it: OpenAI's includes ``/v1``, Anthropic's and Gemini's are bare hosts); ``{model}`` is the
upstream model name, URL-quoted.  ``stream_path``, when set, is the streamed form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

import msgspec

from omnirouter.protocols.base import ProtocolName
from omnirouter.protocols.media.base import MediaUpstream
from omnirouter.protocols.media.dashscope_speech import DASHSCOPE_SPEECH_UP
from omnirouter.protocols.media.elevenlabs_speech import ELEVENLABS_SPEECH_UP
from omnirouter.protocols.media.gemini_embeddings import GEMINI_EMBEDDINGS_UP
from omnirouter.protocols.media.gemini_images import GEMINI_IMAGES_UP
from omnirouter.protocols.media.gemini_speech import GEMINI_SPEECH_UP
from omnirouter.protocols.media.gemini_transcription import GEMINI_TRANSCRIPTION_UP
from omnirouter.protocols.media.minimax_speech import MINIMAX_SPEECH_UP
from omnirouter.protocols.media.openai_embeddings import OPENAI_EMBEDDINGS_UP
from omnirouter.protocols.media.openai_images import OPENAI_IMAGES_UP
from omnirouter.protocols.media.openai_moderations import OPENAI_MODERATIONS_UP
from omnirouter.protocols.media.openai_speech import OPENAI_SPEECH_UP
from omnirouter.protocols.media.openai_transcription import OPENAI_TRANSCRIPTION_UP
from omnirouter.protocols.media.rerank_vendors import (
    COHERE_RERANK_UP,
    DASHSCOPE_RERANK_UP,
    JINA_RERANK_UP,
    VOYAGE_RERANK_UP,
)
from omnirouter.protocols.media.serper import SERPER_UP
from omnirouter.protocols.media.vendor_images import ARK_IMAGES_UP, BFL_IMAGES_UP, DASHSCOPE_IMAGES_UP
from omnirouter.protocols.media.volcengine_speech import VOLCENGINE_SPEECH_UP
from omnirouter.protocols.tasks.base import TaskVendor
from omnirouter.protocols.tasks.hailuo import HAILUO_VIDEO
from omnirouter.protocols.tasks.hunyuan import HUNYUAN_VIDEO
from omnirouter.protocols.tasks.hunyuan_panorama import HUNYUAN_PANORAMA
from omnirouter.protocols.tasks.image_vendors import BFL_IMAGE_TASK, WANX_IMAGE_TASK, InlineImageTask
from omnirouter.protocols.tasks.jimeng import JIMENG_VIDEO
from omnirouter.protocols.tasks.kling import KLING_VIDEO
from omnirouter.protocols.tasks.kling_images import KLING_IMAGES
from omnirouter.protocols.tasks.midjourney import MIDJOURNEY
from omnirouter.protocols.tasks.pixverse import PIXVERSE_VIDEO
from omnirouter.protocols.tasks.seedance import SEEDANCE_VIDEO
from omnirouter.protocols.tasks.sora import SORA_VIDEO
from omnirouter.protocols.tasks.suno import SUNO_MUSIC
from omnirouter.protocols.tasks.veo import VEO_VIDEO
from omnirouter.protocols.tasks.vidu import VIDU_VIDEO
from omnirouter.protocols.tasks.wan import WAN_VIDEO
from omnirouter.providers.auth import AuthStyle, auth_headers
from omnirouter.providers.capabilities import Capability, capability_of
from omnirouter.providers.kinds import ProviderKind
from omnirouter.providers.vendors import VENDORS

__all__ = [
    "ANTHROPIC_VIA",
    "IMAGE_URL_PROTOCOLS",
    "PROVIDERS",
    "Endpoint",
    "ProviderSpec",
    "channel_spec",
    "provider_spec",
    "unreachable_in",
]


class Endpoint(msgspec.Struct, frozen=True):
    """Where one capability is served, under the channel's base URL."""

    path: str
    stream_path: str | None = None

    def url(self, base_url: str, model: str, stream: bool) -> str:
        """The full URL for ``model`` (streamed or not)."""
        path = self.stream_path if stream and self.stream_path is not None else self.path
        if "{model}" in path:
            path = path.replace("{model}", quote(model, safe=""))
        return base_url + path


class ProviderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """How to reach one kind of upstream.

    ``protocol`` is the chat protocol its channels speak unless a model says otherwise (an OpenAI
    channel's ``responses_models``); ``default_base_url`` is the provider's public API.  ``endpoints``
    are its chat endpoints (none for a vendor of media only); ``media`` its codec for each media
    capability (``protocols/media/``: the codec knows its paths); ``tasks`` its asynchronous task codec
    for each task capability (``protocols/tasks/``: video now).
    """

    kind: ProviderKind
    protocol: ProtocolName
    default_base_url: str
    auth: AuthStyle
    endpoints: Mapping[Capability, Endpoint]
    media: Mapping[Capability, MediaUpstream[Any, Any]] = msgspec.field(default_factory=dict)
    tasks: Mapping[Capability, TaskVendor] = msgspec.field(default_factory=dict)
    fixed_headers: Mapping[str, str] = msgspec.field(default_factory=dict)

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this provider serves."""
        return frozenset(self.endpoints) | frozenset(self.media) | frozenset(self.tasks)

    @property
    def chats(self) -> bool:
        """Whether its channels serve chat at all (a rerank or speech vendor does not)."""
        return bool(self.endpoints)

    def auth_headers(self, key: str) -> dict[str, str]:
        """The headers that carry an upstream key."""
        return auth_headers(self.auth, key)

    def endpoint_url(self, protocol: ProtocolName, base_url: str, model: str, stream: bool) -> str:
        """The URL of a chat call in ``protocol`` under ``base_url``."""
        return self.endpoints[capability_of(protocol)].url(base_url, model, stream)


_VENDOR_CHAT: Final = {Capability.CHAT: Endpoint("/chat/completions")}

PROVIDERS: Final[dict[ProviderKind, ProviderSpec]] = {
    ProviderKind.OPENAI: ProviderSpec(
        kind=ProviderKind.OPENAI,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.openai.com/v1",
        auth=AuthStyle.BEARER,
        endpoints={
            Capability.CHAT: Endpoint("/chat/completions"),
            Capability.RESPONSES: Endpoint("/responses"),
        },
        media={
            Capability.EMBEDDINGS: OPENAI_EMBEDDINGS_UP,
            Capability.MODERATION: OPENAI_MODERATIONS_UP,
            Capability.SPEECH: OPENAI_SPEECH_UP,
            Capability.IMAGE_GENERATION: OPENAI_IMAGES_UP,
            Capability.IMAGE_EDIT: OPENAI_IMAGES_UP,
            Capability.TRANSCRIPTION: OPENAI_TRANSCRIPTION_UP,
        },
        tasks={Capability.VIDEO_TASK: SORA_VIDEO, Capability.IMAGE_TASK: InlineImageTask(OPENAI_IMAGES_UP)},
    ),
    ProviderKind.ANTHROPIC: ProviderSpec(
        kind=ProviderKind.ANTHROPIC,
        protocol=ProtocolName.ANTHROPIC,
        default_base_url="https://api.anthropic.com",
        auth=AuthStyle.X_API_KEY,
        endpoints={Capability.MESSAGES: Endpoint("/v1/messages")},
        fixed_headers={"anthropic-version": "2023-06-01"},
    ),
    ProviderKind.GEMINI: ProviderSpec(
        kind=ProviderKind.GEMINI,
        protocol=ProtocolName.GEMINI,
        default_base_url="https://generativelanguage.googleapis.com",
        auth=AuthStyle.X_GOOG_API_KEY,
        endpoints={
            Capability.GENERATE_CONTENT: Endpoint(
                "/v1beta/models/{model}:generateContent", "/v1beta/models/{model}:streamGenerateContent?alt=sse"
            )
        },
        media={
            Capability.EMBEDDINGS: GEMINI_EMBEDDINGS_UP,
            Capability.SPEECH: GEMINI_SPEECH_UP,
            Capability.IMAGE_GENERATION: GEMINI_IMAGES_UP,
            Capability.IMAGE_EDIT: GEMINI_IMAGES_UP,
            Capability.TRANSCRIPTION: GEMINI_TRANSCRIPTION_UP,
        },
        tasks={Capability.VIDEO_TASK: VEO_VIDEO, Capability.IMAGE_TASK: InlineImageTask(GEMINI_IMAGES_UP)},
    ),
    ProviderKind.COHERE: ProviderSpec(  # rerank
        kind=ProviderKind.COHERE,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.cohere.com",
        auth=AuthStyle.BEARER,
        endpoints={},
        media={Capability.RERANK: COHERE_RERANK_UP},
    ),
    ProviderKind.JINA: ProviderSpec(  # rerank
        kind=ProviderKind.JINA,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.jina.ai",
        auth=AuthStyle.BEARER,
        endpoints={},
        media={Capability.RERANK: JINA_RERANK_UP},
    ),
    ProviderKind.VOYAGE: ProviderSpec(  # rerank
        kind=ProviderKind.VOYAGE,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.voyageai.com",
        auth=AuthStyle.BEARER,
        endpoints={},
        media={Capability.RERANK: VOYAGE_RERANK_UP},
    ),
    ProviderKind.DASHSCOPE: ProviderSpec(  # rerank, qwen-tts, wanx images
        kind=ProviderKind.DASHSCOPE,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://dashscope.aliyuncs.com",
        auth=AuthStyle.BEARER,
        endpoints=_VENDOR_CHAT,  # chat under the OpenAI-compatible base of providers/vendors.py
        media={
            Capability.RERANK: DASHSCOPE_RERANK_UP,
            Capability.SPEECH: DASHSCOPE_SPEECH_UP,
            Capability.IMAGE_GENERATION: DASHSCOPE_IMAGES_UP,
        },
        tasks={Capability.VIDEO_TASK: WAN_VIDEO, Capability.IMAGE_TASK: WANX_IMAGE_TASK},
    ),
    ProviderKind.MINIMAX: ProviderSpec(  # T2A v2 speech, Hailuo video
        kind=ProviderKind.MINIMAX,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.minimax.io",
        auth=AuthStyle.BEARER,
        endpoints=_VENDOR_CHAT,  # chat under the OpenAI-compatible base of providers/vendors.py
        media={Capability.SPEECH: MINIMAX_SPEECH_UP},
        tasks={Capability.VIDEO_TASK: HAILUO_VIDEO},
    ),
    ProviderKind.VOLCENGINE: ProviderSpec(  # Seed-TTS speech
        kind=ProviderKind.VOLCENGINE,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://openspeech.bytedance.com",
        auth=AuthStyle.BEARER,
        endpoints={},
        media={Capability.SPEECH: VOLCENGINE_SPEECH_UP},
    ),
    ProviderKind.ELEVENLABS: ProviderSpec(  # speech
        kind=ProviderKind.ELEVENLABS,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.elevenlabs.io",
        auth=AuthStyle.XI_API_KEY,
        endpoints={},
        media={Capability.SPEECH: ELEVENLABS_SPEECH_UP},
    ),
    ProviderKind.ARK: ProviderSpec(  # Seedream images, Seedance video
        kind=ProviderKind.ARK,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://ark.cn-beijing.volces.com",
        auth=AuthStyle.BEARER,
        endpoints=_VENDOR_CHAT,  # chat under the OpenAI-compatible base of providers/vendors.py
        media={Capability.IMAGE_GENERATION: ARK_IMAGES_UP, Capability.IMAGE_EDIT: ARK_IMAGES_UP},
        tasks={Capability.VIDEO_TASK: SEEDANCE_VIDEO, Capability.IMAGE_TASK: InlineImageTask(ARK_IMAGES_UP)},
    ),
    ProviderKind.BFL: ProviderSpec(  # FLUX images
        kind=ProviderKind.BFL,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.bfl.ai",
        auth=AuthStyle.X_KEY,
        endpoints={},
        media={Capability.IMAGE_GENERATION: BFL_IMAGES_UP, Capability.IMAGE_EDIT: BFL_IMAGES_UP},
        tasks={Capability.IMAGE_TASK: BFL_IMAGE_TASK},
    ),
    ProviderKind.KLING: ProviderSpec(  # video, images: channel keys are ACCESS_KEY|SECRET_KEY pairs (JWT per call)
        kind=ProviderKind.KLING,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.klingai.com",
        auth=AuthStyle.SIGNED,
        endpoints={},
        tasks={Capability.VIDEO_TASK: KLING_VIDEO, Capability.IMAGE_TASK: KLING_IMAGES},
    ),
    ProviderKind.VIDU: ProviderSpec(  # video
        kind=ProviderKind.VIDU,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://api.vidu.com",
        auth=AuthStyle.TOKEN,
        endpoints={},
        tasks={Capability.VIDEO_TASK: VIDU_VIDEO},
    ),
    ProviderKind.JIMENG: ProviderSpec(  # video: channel keys are ACCESS_KEY|SECRET_KEY pairs (Volcengine V4)
        kind=ProviderKind.JIMENG,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://visual.volcengineapi.com",
        auth=AuthStyle.SIGNED,
        endpoints={},
        tasks={Capability.VIDEO_TASK: JIMENG_VIDEO},
    ),
    ProviderKind.TENCENT: ProviderSpec(  # Hunyuan video (VCLM) and panoramas (MPS), signed with SecretId|SecretKey
        kind=ProviderKind.TENCENT,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://vclm.tencentcloudapi.com",
        auth=AuthStyle.SIGNED,
        endpoints={},
        tasks={Capability.VIDEO_TASK: HUNYUAN_VIDEO, Capability.IMAGE_TASK: HUNYUAN_PANORAMA},
    ),
    ProviderKind.PIXVERSE: ProviderSpec(  # video
        kind=ProviderKind.PIXVERSE,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://app-api.pixverse.ai",
        auth=AuthStyle.API_KEY,
        endpoints={},
        tasks={Capability.VIDEO_TASK: PIXVERSE_VIDEO},
    ),
    ProviderKind.MIDJOURNEY: ProviderSpec(  # a self-hosted midjourney-proxy: no public API, set base_url
        kind=ProviderKind.MIDJOURNEY,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="http://127.0.0.1:8080",
        auth=AuthStyle.MJ_API_SECRET,
        endpoints={},
        tasks={Capability.MIDJOURNEY: MIDJOURNEY},
    ),
    ProviderKind.SUNO: ProviderSpec(  # music and lyrics: a Suno-API server (base_url its bare host)
        kind=ProviderKind.SUNO,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="http://localhost:3000",
        auth=AuthStyle.BEARER,
        endpoints={},
        tasks={Capability.MUSIC_TASK: SUNO_MUSIC},
    ),
    ProviderKind.SERPER: ProviderSpec(  # Google search, images and news (serper.dev): X-API-KEY
        kind=ProviderKind.SERPER,
        protocol=ProtocolName.OPENAI_CHAT,
        default_base_url="https://google.serper.dev",
        auth=AuthStyle.X_API_KEY,
        endpoints={},
        media={Capability.SEARCH: SERPER_UP},
    ),
}

# The OpenAI-compatible chat vendors of providers/vendors.py not registered above for media.
PROVIDERS.update(
    (
        kind,
        ProviderSpec(
            kind=kind,
            protocol=ProtocolName.OPENAI_CHAT,
            default_base_url=vendor.base_url,
            auth=vendor.auth,
            endpoints={Capability.CHAT: Endpoint(vendor.chat_path)},
        ),
    )
    for kind, vendor in VENDORS.items()
    if kind not in PROVIDERS
)

# Protocols whose upstreams fetch image URLs themselves; for the others the gateway inlines them.
IMAGE_URL_PROTOCOLS: Final = frozenset(
    {ProtocolName.OPENAI_CHAT, ProtocolName.OPENAI_RESPONSES, ProtocolName.ANTHROPIC}
)


# Vendors reachable through their Anthropic-compatible endpoint (a channel's ``protocol: anthropic``):
# Anthropic Messages under the vendor's Anthropic base, its key in the header the vendor documents there.
# Chat only: such a channel serves no media or tasks (another channel of the vendor does).
ANTHROPIC_VIA: Final[dict[ProviderKind, ProviderSpec]] = {
    kind: ProviderSpec(
        kind=kind,
        protocol=ProtocolName.ANTHROPIC,
        default_base_url=vendor.anthropic_base_url or "",
        auth=vendor.anthropic_auth,
        endpoints=PROVIDERS[ProviderKind.ANTHROPIC].endpoints,
        fixed_headers=PROVIDERS[ProviderKind.ANTHROPIC].fixed_headers,
    )
    for kind, vendor in VENDORS.items()
    if vendor.anthropic_base_url is not None
}


def provider_spec(kind: ProviderKind) -> ProviderSpec:
    """The spec registered for ``kind``."""
    return PROVIDERS[kind]


def channel_spec(kind: ProviderKind, protocol: str | None) -> ProviderSpec | None:
    """The spec of a channel of ``kind`` that says ``protocol:`` (``None``: the provider's own); ``None``
    when the provider cannot be reached in that protocol (only ``anthropic`` is offered, by the vendors
    of ``ANTHROPIC_VIA`` and Anthropic itself; ``openai`` is every OpenAI-compatible provider's own)."""
    spec = PROVIDERS[kind]
    if protocol is None or protocol == _OWN_PROTOCOL_NAMES.get(spec.protocol):
        return spec
    if protocol == "anthropic":
        return ANTHROPIC_VIA.get(kind)
    return None


def unreachable_in(kind: ProviderKind, protocol: str | None) -> str:
    """Why a channel of ``kind`` cannot say ``protocol:`` (the config error's reason)."""
    offered = ", ".join(k.value for k in (ProviderKind.ANTHROPIC, *ANTHROPIC_VIA))
    return (
        f"provider {kind.value!r} has no {protocol} endpoint here "
        f"('anthropic' is offered by {offered}; omit 'protocol' for the provider's own)"
    )


_OWN_PROTOCOL_NAMES: Final = {ProtocolName.OPENAI_CHAT: "openai", ProtocolName.ANTHROPIC: "anthropic"}
