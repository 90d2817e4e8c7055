"""The callback URL's token and the ``public_url`` setting, without a gateway."""

from __future__ import annotations

import pytest

from omnirouter.config import ConfigError, parse_config
from omnirouter.tasks.callbacks import CALLBACK_PATH, CallbackLinks, callback_token, valid_token

SECRET = bytes(range(32))


def test_the_token_is_an_hmac_of_the_task_id_checked_exactly() -> None:
    token = callback_token("task_0123", SECRET)
    assert len(token) == 43 and "=" not in token and "/" not in token and "+" not in token  # url-safe, no padding
    assert token == callback_token("task_0123", SECRET)
    assert token != callback_token("task_0124", SECRET)
    assert token != callback_token("task_0123", bytes(32))
    assert valid_token("task_0123", token, SECRET)
    assert not valid_token("task_0124", token, SECRET)  # another task's token
    assert not valid_token("task_0123", token[:-1], SECRET)
    assert not valid_token("task_0123", token[:-1] + ("A" if token[-1] != "A" else "B"), SECRET)
    assert not valid_token("task_0123", "", SECRET)
    assert not valid_token("task_0123", "é" * 43, SECRET)
    assert not valid_token("task_0123", token, b"")  # no secret yet: nothing is accepted
    with pytest.raises(ValueError, match="empty"):
        callback_token("task_0123", b"")


def test_links_exist_only_with_a_public_url_and_a_secret() -> None:
    secret = SECRET
    links = CallbackLinks("https://gw.example.com/base/", lambda: secret)
    url = links.url("task_0123")
    assert url == f"https://gw.example.com/base{CALLBACK_PATH}/task_0123/{callback_token('task_0123', SECRET)}"
    assert links.valid("task_0123", url.rsplit("/", 1)[1])
    assert (
        links.url("a b/c") == f"https://gw.example.com/base{CALLBACK_PATH}/a%20b%2Fc/{callback_token('a b/c', SECRET)}"
    )
    assert CallbackLinks(None, lambda: secret).url("task_0123") is None
    assert CallbackLinks("https://gw.example.com", lambda: b"").url("task_0123") is None


def test_public_url_is_read_and_must_be_http() -> None:
    assert parse_config("public_url: https://gw.example.com\n").public_url == "https://gw.example.com"
    assert parse_config("port: 8080\n").public_url is None
    with pytest.raises(ConfigError, match="public_url"):
        parse_config("public_url: gw.example.com\n")
