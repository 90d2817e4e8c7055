"""The same-protocol side table: Anthropic details the IR has no field for.

Block-level fields (``cache_control``, ``citations``, a document's ``context``,
a tool's ``defer_loading`` …), server tools, and the ``thinking`` / ``output_config``
details that do not map are recorded while decoding under ``extra["_anthropic"]``,
keyed by the IR position they belong to (message index, part index).  Like every
``extra`` entry, they are written back only when the same protocol encodes again
(``source_protocol == "anthropic"``), and only onto a block of the same type at the
same position.  The table is plain JSON data; a malformed one is ignored.
"""

from __future__ import annotations

from typing import Any

SIDE_KEY = "_anthropic"
"""The ``extra`` key holding the side table (never sent on the wire)."""


class SideTable:
    """Collects what the IR cannot hold while one body is decoded."""

    __slots__ = ("_blocks", "_other", "_server_tools", "_tools")

    def __init__(self) -> None:
        self._blocks: list[list[Any]] = []
        self._tools: list[list[Any]] = []
        self._server_tools: list[list[Any]] = []
        self._other: dict[str, Any] = {}

    def block(self, message: int, part: int, kind: str, extras: dict[str, Any]) -> None:
        """Extra fields of the block that became part ``part`` of IR message ``message``."""
        if extras:
            self._blocks.append([message, part, kind, extras])

    def tool(self, index: int, extras: dict[str, Any]) -> None:
        """Extra fields of IR tool ``index``."""
        if extras:
            self._tools.append([index, extras])

    def server_tool(self, position: int, tool: dict[str, Any]) -> None:
        """A non-custom tool (web search, bash …) at ``position`` of the original ``tools`` array."""
        self._server_tools.append([position, tool])

    def set(self, key: str, value: Any) -> None:
        """Any other detail (``thinking_type``, ``thinking_display``, ``effort``, ``usage`` …)."""
        if value is not None and value != {}:
            self._other[key] = value

    def store(self, extra: dict[str, Any]) -> None:
        """Put the table into ``extra`` (nothing when empty)."""
        table: dict[str, Any] = dict(self._other)
        if self._blocks:
            table["blocks"] = self._blocks
        if self._tools:
            table["tools"] = self._tools
        if self._server_tools:
            table["server_tools"] = self._server_tools
        if table:
            extra[SIDE_KEY] = table
        else:
            extra.pop(SIDE_KEY, None)


class SideReader:
    """Reads a side table back when encoding; tolerant of anything malformed."""

    __slots__ = ("_blocks", "_other", "_tools", "server_tools")

    def __init__(self, raw: Any) -> None:
        table = raw if isinstance(raw, dict) else {}
        self._other = table
        self._blocks: dict[tuple[int, int], tuple[str, dict[str, Any]]] = {}
        for entry in _list(table.get("blocks")):
            if _shape(entry, (int, int, str, dict)):
                self._blocks[(entry[0], entry[1])] = (entry[2], entry[3])
        self._tools: dict[int, dict[str, Any]] = {
            entry[0]: entry[1] for entry in _list(table.get("tools")) if _shape(entry, (int, dict))
        }
        self.server_tools: list[tuple[int, dict[str, Any]]] = [
            (entry[0], entry[1]) for entry in _list(table.get("server_tools")) if _shape(entry, (int, dict))
        ]

    def block(self, message: int, part: int, kind: str) -> dict[str, Any]:
        """The extra fields for a block of type ``kind`` built from IR part (message, part)."""
        found = self._blocks.get((message, part))
        return found[1] if found is not None and found[0] == kind else {}

    def tool(self, index: int) -> dict[str, Any]:
        """The extra fields of IR tool ``index``."""
        return self._tools.get(index, {})

    def get(self, key: str) -> Any:
        """Another recorded detail, or ``None``."""
        return self._other.get(key)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _shape(entry: Any, types: tuple[type, ...]) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == len(types)
        and all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(entry, types, strict=True))
    )


EMPTY = SideReader(None)
"""The reader used for requests and answers of another protocol."""
