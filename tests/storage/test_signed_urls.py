"""Signed, expiring gateway URLs (``http/signed_urls.py``) and their secret, shared by replicas through
the settings table (``storage/signing_secret.py``) on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlsplit

import pytest

from omnirouter.http.signed_urls import sign, signed_url, verify
from omnirouter.storage import Database, migrate, settings_table
from omnirouter.storage.signing_secret import SECRET_ROWS, url_signing_secret

SECRET = b"k" * 32
PATH = "/v1/videos/video_abc/content"
NOW = 1_800_000_000


def test_a_signed_url_verifies_until_it_expires() -> None:
    url = signed_url(PATH, NOW + 600, SECRET, {"variant": "video"})
    parts = urlsplit(url)
    assert parts.path == PATH
    assert parse_qs(parts.query)["variant"] == ["video"]
    assert verify(PATH, parts.query, NOW, SECRET)
    assert verify(PATH, parts.query, NOW + 599.9, SECRET)
    assert not verify(PATH, parts.query, NOW + 600, SECRET)


def test_tampering_fails() -> None:
    query = sign(PATH, NOW + 600, SECRET, {"variant": "video"})
    assert not verify("/v1/videos/video_other/content", query, NOW, SECRET)
    assert not verify(PATH, query.replace("variant=video", "variant=thumbnail"), NOW, SECRET)
    assert not verify(PATH, query.replace(f"expires={NOW + 600}", f"expires={NOW + 6000}"), NOW, SECRET)
    assert not verify(PATH, query + "&extra=1", NOW, SECRET)
    assert not verify(PATH, query + "&variant=video", NOW, SECRET)  # repeated
    assert not verify(PATH, query, NOW, b"another secret")
    assert not verify(PATH, query, NOW, b"")
    signature = parse_qs(query)["signature"][0]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert not verify(PATH, query.replace(signature, flipped), NOW, SECRET)
    for broken in ("", "expires=abc&signature=x", f"expires={NOW + 600}", "signature=x", "%zz", "a&&b"):
        assert not verify(PATH, broken, NOW, SECRET)


def test_parameter_order_does_not_matter() -> None:
    query = sign(PATH, NOW + 60, SECRET, {"variant": "thumbnail", "a": "1"})
    pairs = query.split("&")
    assert verify(PATH, "&".join(reversed(pairs)), NOW, SECRET)


def test_reserved_names_and_empty_secret_are_refused() -> None:
    with pytest.raises(ValueError, match="expires"):
        sign(PATH, NOW, SECRET, {"expires": "1"})
    with pytest.raises(ValueError, match="empty"):
        sign(PATH, NOW, b"")


async def test_replicas_share_one_stored_secret(database_url: str) -> None:
    await migrate(database_url)
    first, second = Database(database_url), Database(database_url)
    try:
        one = await url_signing_secret(first, random_bits=random.Random(1).getrandbits)
        two = await url_signing_secret(second, random_bits=random.Random(2).getrandbits)
        assert one == two and len(one) == 32
        async with first.engine.connect() as conn:
            rows = (await conn.execute(settings_table.select().where(settings_table.c.name.in_(SECRET_ROWS)))).all()
        assert len(rows) == 4
        configured = await url_signing_secret(first, "operator secret")
        assert configured == await url_signing_secret(second, "operator secret") != one
    finally:
        await first.close()
        await second.close()
