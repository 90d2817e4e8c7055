"""The gateway's log output: plain text or one JSON object per line, with secrets masked in every line.

``configure_logging`` (the serving processes call it: ``omnirouter serve`` and each of its workers)
puts one handler on the root logger, so every logger (the gateway's, uvicorn's, libraries') goes
through it.  Its formatter masks the known secrets (upstream keys of every channel, the configured
client keys, the admin and metrics keys: ``remember_secrets``) and anything shaped like an API key
(``config.secrets.scrub``) in the whole line, tracebacks included.  JSON lines carry ``time``
(RFC 3339, UTC), ``level``, ``logger``, ``message``, an ``exception`` when there is one, and the fields
a record brings in ``extra={"fields": {...}}`` (the request log: ``request_log.py``).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from omnirouter.config import GatewayConfig, scrub

__all__ = ["FIELDS", "JsonFormatter", "PlainFormatter", "config_secrets", "configure_logging", "remember_secrets"]

FIELDS = "fields"
"""The ``extra`` attribute whose dict a formatter writes as fields of the line."""

_secrets: frozenset[str] = frozenset()
_lock = threading.Lock()


def remember_secrets(values: Iterable[str]) -> None:
    """Add strings every log line must mask (process-wide: the handler is)."""
    global _secrets
    new = {value for value in values if value and len(value) >= 4}  # a tiny "secret" would mask ordinary words
    if new <= _secrets:
        return
    with _lock:
        _secrets = _secrets | new


def config_secrets(config: GatewayConfig) -> list[str]:
    """The secrets a config names: channels' upstream keys, client keys, the admin and metrics keys, the
    OTLP headers."""
    found = [key for channel in config.channels for key in channel.api_keys]
    found += [key.key for key in config.keys]
    found += [value for value in (config.admin_key, config.metrics_key) if value]
    if config.otel is not None:
        found += config.otel.headers.values()  # a collector's token
    return found


def redact(text: str) -> str:
    """``text`` with every remembered secret and anything shaped like an API key masked."""
    return scrub(text, _secrets)


class PlainFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` with secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields: dict[str, Any] | None = getattr(record, FIELDS, None)
        if fields:
            pairs = " ".join(f"{name}={value}" for name, value in fields.items() if value is not None)
            head, sep, tail = text.partition("\n")  # fields on the first line, before a traceback
            text = f"{head} {pairs}{sep}{tail}"
        return redact(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (tracebacks inside it), secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields: dict[str, Any] | None = getattr(record, FIELDS, None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return redact(orjson.dumps(line, default=str).decode())


class _GatewayHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure_logging`` installs (so a second call replaces it, not adds one)."""


def configure_logging(config: GatewayConfig, stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's records at ``config.log_level`` and above to ``stream`` (stderr) in
    ``config.log_format``, secrets masked; returns the handler."""
    remember_secrets(config_secrets(config))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _GatewayHandler)]:
        root.removeHandler(old)
    handler = _GatewayHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if config.log_format == "json" else PlainFormatter())
    root.addHandler(handler)
    root.setLevel(config.log_level.upper())
    return handler
