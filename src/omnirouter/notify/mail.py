"""An alert as an email, sent with aiosmtplib (a maintained asyncio SMTP client), imported at the first email."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import orjson

from omnirouter.config.notifications import NotifyEmailConfig

__all__ = ["message_of", "send_mail"]

_SUBJECTS = {
    "channel.breaker_open": "channel {channel} is down (breaker open for {open_seconds:.0f} s)",
    "key.balance_low": "key {key_name} is low: {remaining_usd} USD left (threshold {threshold_usd} USD)",
    "tasks.backlog": "{unfinished} unfinished tasks (threshold {threshold})",
}


def message_of(config: NotifyEmailConfig, event_id: str, body: dict[str, Any]) -> EmailMessage:
    """The email of one alert: a one-line subject and the alert's JSON as the text."""
    event_type = str(body.get("type", "alert"))
    data = body.get("data") or {}
    try:
        subject = _SUBJECTS[event_type].format(**data)
    except (KeyError, ValueError, IndexError):
        subject = event_type
    message = EmailMessage()
    message["Subject"] = f"[omnirouter] {subject}"
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    message["Message-ID"] = f"<{event_id}@omnirouter>"
    text = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    message.set_content(f"{subject}\n\n{text}\n")
    return message


async def send_mail(config: NotifyEmailConfig, event_id: str, body: dict[str, Any]) -> str | None:
    """Send one alert; None when the server accepted it for every recipient, else why not (no password)."""
    import aiosmtplib  # ~3 MB that only deployments with email alerts need

    try:
        await aiosmtplib.send(
            message_of(config, event_id, body),
            hostname=config.host,
            port=config.port,
            username=config.username if config.username and config.password else None,
            password=config.password if config.username and config.password else None,
            use_tls=config.tls == "tls",
            start_tls=config.tls == "starttls",
            timeout=config.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return f"{config.host}: every recipient refused ({len(exc.recipients)})"
    except aiosmtplib.SMTPResponseException as exc:
        return f"{config.host}: SMTP {exc.code}"
    except (aiosmtplib.SMTPException, OSError) as exc:
        return f"{config.host}: {type(exc).__name__}"
    return None
