"""Which channels serve which public model; resolved once per model name and cached."""

from __future__ import annotations

from collections.abc import Iterable

from omnirouter.routing.channel import Channel


class ModelCatalog:
    """Looks up the channels that serve a public model name."""

    def __init__(self, channels: Iterable[Channel]) -> None:
        self.channels: tuple[Channel, ...] = tuple(channels)
        self._by_model: dict[str, tuple[Channel, ...]] = {}

    def channels_for(self, model: str) -> tuple[Channel, ...]:
        """Channels offering ``model`` (empty when none does)."""
        found = self._by_model.get(model)
        if found is None:
            found = tuple(c for c in self.channels if c.serves(model))
            if found or len(self._by_model) < 10_000:
                self._by_model[model] = found
        return found

    def public_models(self) -> list[str]:
        """Every exact public model name, sorted (patterns cannot be listed)."""
        names: set[str] = set()
        for channel in self.channels:
            names.update(channel.models.exact)
        return sorted(names)
