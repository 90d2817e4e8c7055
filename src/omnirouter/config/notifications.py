"""The ``notifications:`` block: where operator alerts go (a signed webhook, email) and when they fire."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import msgspec

__all__ = ["NotificationsConfig", "NotifyEmailConfig", "NotifyWebhookConfig"]

_SECRET_PREFIX = "whsec_"


class NotifyWebhookConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A URL the gateway POSTs each alert to, signed per Standard Webhooks with ``secret``
    (``whsec_`` + base64 of at least 24 random bytes, as a Standard Webhooks verifier takes it)."""

    url: str
    secret: str

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("notifications.webhook.url must be an http:// or https:// URL")
        signing_key(self.secret)


def signing_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_…`` secret stands for (ValueError when it is not one)."""
    if not secret.startswith(_SECRET_PREFIX):
        raise ValueError("notifications.webhook.secret must start with 'whsec_' (then base64 of random bytes)")
    try:
        key = base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("notifications.webhook.secret: the part after 'whsec_' is not base64") from None
    if len(key) < 24:
        raise ValueError("notifications.webhook.secret must hold at least 24 bytes (32 recommended)")
    return key


class NotifyEmailConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An SMTP server the gateway sends each alert through, from ``sender`` to every address of ``to``.

    ``tls``: ``starttls`` (upgrade a plain connection, usually port 587), ``tls`` (TLS from the start,
    usually 465) or ``none`` (a local relay).  ``username``/``password``: SMTP AUTH when both are set.
    """

    host: str
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 587
    tls: str = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str
    to: Annotated[list[str], msgspec.Meta(min_length=1)]
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0

    def __post_init__(self) -> None:
        if self.tls not in ("starttls", "tls", "none"):
            raise ValueError("notifications.email.tls must be 'starttls', 'tls' or 'none'")


class NotificationsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Operator alerts (docs/operations.md, "Notifications").  Each alert goes to ``webhook`` and/or
    ``email``; nothing is checked while neither is set.  A threshold left unset turns its alert off.

    * ``breaker_open_for``: a channel's breaker opened and no request through it has worked for this long;
    * ``balance_below_usd`` (every key with a quota) and ``balance_per_key`` (by key name, overrides it):
      a key's settled balance (quota minus spend) fell below the threshold; once per crossing, again
      after a top-up lifts it back to the threshold or above;
    * ``tasks_unfinished_over``: at least this many asynchronous tasks are unfinished (pending, queued or
      running); again once the count has dropped below it.

    ``check_interval``: seconds between checks (each worker checks; a database claim sends each alert once).
    """

    webhook: NotifyWebhookConfig | None = None
    email: NotifyEmailConfig | None = None
    check_interval: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 10.0
    breaker_open_for: Annotated[float, msgspec.Meta(ge=0)] | None = 60.0
    balance_below_usd: Annotated[float, msgspec.Meta(ge=0)] | None = None
    balance_per_key: dict[str, Annotated[float, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=dict)
    tasks_unfinished_over: Annotated[int, msgspec.Meta(ge=1)] | None = None

    @property
    def enabled(self) -> bool:
        """Whether any alert has somewhere to go."""
        return self.webhook is not None or self.email is not None
