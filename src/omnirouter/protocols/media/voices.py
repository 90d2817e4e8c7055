"""OpenAI's speech voices as each vendor's voices, and which of a vendor's own voice ids pass through.

A client names an OpenAI voice (``alloy`` … ``cedar``) or a vendor's own voice.  An OpenAI name is
mapped by ``VOICE_TABLE`` below (picked by similar timbre: gender, age, tone; the MiniMax, Volcengine
and DashScope entries for alloy/echo/fable/onyx/nova/shimmer are those LiteLLM and new-api chose,
docs/media.md).  Any other name must look like the vendor's own voice id (Gemini: one of its 30 named
voices, case-insensitive); else it is a 400 naming ``voice`` before the upstream is called.

| OpenAI | Gemini | MiniMax | Volcengine | DashScope | ElevenLabs |
| --- | --- | --- | --- | --- | --- |
| alloy | Zephyr | male-qn-qingse | zh_male_M392_conversation_wvae_bigtts | Cherry | 21m00Tcm4TlvDq8ikWAM |
| ash | Puck | male-qn-daxuesheng | zh_male_yangguangqingnian_mars_bigtts | Ethan | TxGEqnHWrfWFTfGW9XjX |
| ballad | Enceladus | audiobook_male_1 | zh_male_jingqiangkanye_moon_bigtts | Elias | N2lVS1w4EtoT3dr4eOWO |
| coral | Aoede | female-chengshu | zh_female_wanwanxiaohe_moon_bigtts | Serena | EXAVITQu4vr4xnSDxMaL |
| echo | Charon | male-qn-jingying | zh_male_wenhao_mars_bigtts | Ryan | ErXwobaYiN019PkySvjV |
| fable | Iapetus | female-shaonv | zh_female_tianmei_mars_bigtts | Nofish | JBFqnCBsd6RMkjVDRZzb |
| onyx | Orus | male-qn-badao | zh_male_zhibei_mars_bigtts | Dylan | pNInz6obpgDQGcFmaJgB |
| nova | Kore | female-yujie | zh_female_shuangkuaisisi_mars_bigtts | Jennifer | XB0fDUnXU5powFXDhCwa |
| sage | Leda | presenter_female | zh_female_zhixingnvsheng_mars_bigtts | Katerina | pFZP5JQG7iQjIQuC4Bku |
| shimmer | Despina | female-tianmei | zh_female_cancan_mars_bigtts | Chelsie | MF3mGyEYCl7XYWbV9V6O |
| verse | Fenrir | presenter_male | zh_male_beijingxiaoye_moon_bigtts | Peter | onwK4e9ZLuTAKqWW03F9 |
| marin | Sulafat | audiobook_female_1 | zh_female_qingxinnvsheng_mars_bigtts | Sunny | XrExE9yKIg1WjnnlVkGX |
| cedar | Algieba | audiobook_male_2 | zh_male_qingcang_mars_bigtts | Roy | nPczCjzI2devNBz1zQrb |
"""

from __future__ import annotations

import re

from omnirouter.ir import ErrorKind, GatewayError

__all__ = ["GEMINI_VOICES", "OPENAI_VOICES", "VOICE_TABLE", "check_voice_name", "vendor_voice"]

OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
                 "marin", "cedar")  # fmt: skip

# vendor → OpenAI voice → the vendor's voice (the table in the module docstring).
VOICE_TABLE: dict[str, dict[str, str]] = {
    "gemini": dict(zip(OPENAI_VOICES, ("Zephyr", "Puck", "Enceladus", "Aoede", "Charon", "Iapetus", "Orus", "Kore",
                                       "Leda", "Despina", "Fenrir", "Sulafat", "Algieba"), strict=True)),
    "minimax": dict(zip(OPENAI_VOICES, ("male-qn-qingse", "male-qn-daxuesheng", "audiobook_male_1",
                                        "female-chengshu", "male-qn-jingying", "female-shaonv", "male-qn-badao",
                                        "female-yujie", "presenter_female", "female-tianmei", "presenter_male",
                                        "audiobook_female_1", "audiobook_male_2"), strict=True)),
    "volcengine": dict(zip(OPENAI_VOICES, ("zh_male_M392_conversation_wvae_bigtts",
                                           "zh_male_yangguangqingnian_mars_bigtts",
                                           "zh_male_jingqiangkanye_moon_bigtts", "zh_female_wanwanxiaohe_moon_bigtts",
                                           "zh_male_wenhao_mars_bigtts", "zh_female_tianmei_mars_bigtts",
                                           "zh_male_zhibei_mars_bigtts", "zh_female_shuangkuaisisi_mars_bigtts",
                                           "zh_female_zhixingnvsheng_mars_bigtts", "zh_female_cancan_mars_bigtts",
                                           "zh_male_beijingxiaoye_moon_bigtts", "zh_female_qingxinnvsheng_mars_bigtts",
                                           "zh_male_qingcang_mars_bigtts"), strict=True)),
    "dashscope": dict(zip(OPENAI_VOICES, ("Cherry", "Ethan", "Elias", "Serena", "Ryan", "Nofish", "Dylan", "Jennifer",
                                          "Katerina", "Chelsie", "Peter", "Sunny", "Roy"), strict=True)),
    "elevenlabs": dict(zip(OPENAI_VOICES, ("21m00Tcm4TlvDq8ikWAM", "TxGEqnHWrfWFTfGW9XjX", "N2lVS1w4EtoT3dr4eOWO",
                                           "EXAVITQu4vr4xnSDxMaL", "ErXwobaYiN019PkySvjV", "JBFqnCBsd6RMkjVDRZzb",
                                           "pNInz6obpgDQGcFmaJgB", "XB0fDUnXU5powFXDhCwa", "pFZP5JQG7iQjIQuC4Bku",
                                           "MF3mGyEYCl7XYWbV9V6O", "onwK4e9ZLuTAKqWW03F9", "XrExE9yKIg1WjnnlVkGX",
                                           "nPczCjzI2devNBz1zQrb"), strict=True)),
}  # fmt: skip

GEMINI_VOICES = ("Achernar", "Achird", "Algenib", "Algieba", "Alnilam", "Aoede", "Autonoe", "Callirrhoe", "Charon",
                 "Despina", "Enceladus", "Erinome", "Fenrir", "Gacrux", "Iapetus", "Kore", "Laomedeia", "Leda", "Orus",
                 "Pulcherrima", "Puck", "Rasalgethi", "Sadachbia", "Sadaltager", "Schedar", "Sulafat", "Umbriel",
                 "Vindemiatrix", "Zephyr", "Zubenelgenubi")  # fmt: skip
_GEMINI_BY_LOWER = {name.lower(): name for name in GEMINI_VOICES}

# What a vendor's own voice id looks like (ids of cloned voices included).
_OWN_VOICE: dict[str, re.Pattern[str]] = {
    "minimax": re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,127}"),
    "volcengine": re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*_[A-Za-z0-9_.\-]{1,126}"),  # zh_female_…, BV001_streaming, S_…
    "dashscope": re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}"),
    "elevenlabs": re.compile(r"[A-Za-z0-9]{20}"),
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def _unknown(voice: str, vendor: str) -> GatewayError:
    return GatewayError(
        ErrorKind.INVALID_REQUEST,
        f"The voice '{voice}' is not available for this model: use one of {', '.join(OPENAI_VOICES)} "
        f"or a voice of the model's provider ({vendor}).",
        param="voice",
    )


def check_voice_name(voice: str) -> None:
    """A 400 naming ``voice`` for a name no vendor could have (empty, spaces, too long): before routing."""
    if not _NAME.fullmatch(voice):
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"The voice '{voice[:64]}' is not a voice name: letters, digits, '_', '-' and '.', at most 128.",
            param="voice",
        )


def vendor_voice(voice: str, vendor: str) -> str:
    """The voice ``vendor`` knows for ``voice`` (an OpenAI name mapped, the vendor's own id passed through);
    a 400 naming ``voice`` when it is neither."""
    mapped = VOICE_TABLE[vendor].get(voice.lower())
    if mapped is not None:
        return mapped
    if vendor == "gemini":
        name = _GEMINI_BY_LOWER.get(voice.lower())
        if name is None:
            raise _unknown(voice, vendor)
        return name
    if not _OWN_VOICE[vendor].fullmatch(voice):
        raise _unknown(voice, vendor)
    return voice
