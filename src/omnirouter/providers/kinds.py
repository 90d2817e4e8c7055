"""The closed set of upstream provider kinds."""

from __future__ import annotations

import enum


class ProviderKind(enum.StrEnum):
    """Which vendor (wire format family) a channel's upstream is: its ``provider:`` name in the config."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    # Media vendors (docs/media.md): rerank, speech, images.
    COHERE = "cohere"
    JINA = "jina"
    VOYAGE = "voyage"
    DASHSCOPE = "dashscope"
    MINIMAX = "minimax"
    VOLCENGINE = "volcengine"
    ELEVENLABS = "elevenlabs"
    ARK = "ark"
    BFL = "bfl"
    # Video task vendors (docs/tasks.md); ``minimax`` (Hailuo), ``ark`` (Seedance), ``gemini`` (Veo),
    # ``openai`` (Sora) and ``dashscope`` (Wan) serve video too.
    KLING = "kling"
    VIDU = "vidu"
    JIMENG = "jimeng"
    TENCENT = "tencent"
    PIXVERSE = "pixverse"
    # Music task vendors: a Suno-API server (docs/tasks.md, "Suno").
    SUNO = "suno"
    # Midjourney through a self-hosted midjourney-proxy (docs/tasks.md, "Midjourney (vendor side)").
    MIDJOURNEY = "midjourney"
    # Google search through serper.dev (docs/media.md, "Search").
    SERPER = "serper"
    # OpenAI-compatible chat vendors (docs/vendors.md): base URL, auth and dialect in providers/vendors.py.
    # ``dashscope``, ``minimax`` and ``ark`` above serve chat too.
    DEEPSEEK = "deepseek"
    MOONSHOT = "moonshot"
    ZHIPU = "zhipu"
    XAI = "xai"
    QIANFAN = "qianfan"
    HUNYUAN = "hunyuan"
    SPARK = "spark"
    STEPFUN = "stepfun"
    ANTLING = "antling"
    SENSENOVA = "sensenova"
    OPENROUTER = "openrouter"
    GROQ = "groq"
    MISTRAL = "mistral"
    TOGETHER = "together"
    FIREWORKS = "fireworks"
    SILICONFLOW = "siliconflow"
    AZURE = "azure"
    AZURE_V1 = "azure-v1"
    OLLAMA = "ollama"
    VLLM = "vllm"
