"""``generationConfig.responseModalities`` and ``imageConfig`` ↔ IR ``modalities`` / :class:`ImageOutput`.

Modalities are upper case on the wire (``TEXT``, ``IMAGE``, ``AUDIO``), lower case in the IR.  An
``imageConfig`` holding more than ``aspectRatio`` / ``imageSize`` (Vertex fields) and modalities
the IR lacks are lossy: their raw value also stays in ``extra`` (Gemini upstreams get it back).
"""

from __future__ import annotations

from typing import Any, cast

from omnirouter.ir import ImageOutput, Modality
from omnirouter.protocols.gemini._shared import child_str, config_object, invalid

_KNOWN = ("TEXT", "IMAGE", "AUDIO")


def decode_modalities(config: dict[str, Any]) -> tuple[list[Modality] | None, bool]:
    """``responseModalities`` as IR modalities, and whether that lost something."""
    value = config.get("responseModalities")
    if value is None:
        return None, False
    param = "generationConfig.responseModalities"
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise invalid(f"'{param}' must be an array of strings", param)
    upper = [m.upper() for m in value]
    known = [cast(Modality, m.lower()) for m in upper if m in _KNOWN]
    return known or None, len(known) != len(upper)


def decode_image_config(config: dict[str, Any]) -> tuple[ImageOutput | None, bool]:
    """``imageConfig`` as an :class:`ImageOutput`, and whether that lost something."""
    param = "generationConfig.imageConfig"
    image = config_object(config.get("imageConfig"), param)
    if image is None:
        return None, False
    ratio, size = child_str(image, "aspectRatio", param), child_str(image, "imageSize", param)
    lossy = bool(set(image) - {"aspectRatio", "imageSize"})
    if ratio is None and size is None:
        return None, lossy
    return ImageOutput(aspect_ratio=ratio, image_size=size), lossy


def encode_media_config(modalities: list[Modality] | None, image: ImageOutput | None) -> dict[str, Any]:
    """``responseModalities`` and ``imageConfig`` for ``generationConfig`` (only what is set)."""
    config: dict[str, Any] = {}
    if modalities:
        config["responseModalities"] = [m.upper() for m in modalities]
    if image is not None:
        fields = {"aspectRatio": image.aspect_ratio, "imageSize": image.image_size}
        found = {k: v for k, v in fields.items() if v is not None}
        if found:
            config["imageConfig"] = found
    return config
