"""``omnirouter keys top-up`` and ``omnirouter redemptions create|list|disable`` beside a running gateway."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from omnirouter.config import load_config
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import Http
from tests.helpers.gateway_harness import running_gateway, write_cli_config
from tests.helpers.processes import cli, run_cli


async def test_top_up_and_redemption_codes_from_the_shell(
    tmp_path: Path, mock_upstream: MockUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_cli_config(tmp_path / "omnirouter.yaml", mock_upstream.url)
    created = await cli(capsys, "keys", "create", "shop-customer", "--quota", "1", "--config", config)
    assert created.returncode == 0, created.stderr
    key_id, secret = created.stdout.split()[2], created.stdout.splitlines()[1]

    topped = await run_cli("keys", "top-up", key_id, "2.5", "--note", "paid by card", "--config", config)
    assert topped.returncode == 0, topped.stderr
    assert f"Added $2.5 to key {key_id}: quota $3.5, remaining $3.5" in topped.stdout
    for args, fragment in (
        (("keys", "top-up", key_id, "0"), "more than 0"),
        (("keys", "top-up", "9999", "1"), "No key with id 9999"),
    ):
        refused = await cli(capsys, *args, "--config", config)
        assert refused.returncode == 1 and fragment in refused.stderr, refused.stderr

    made = await run_cli("redemptions", "create", "cli-promo", "--count", "2", "--usd", "0.5", "--config", config)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert lines[0] == "Created 2 codes worth $0.5 each in batch 'cli-promo':" and "not shown again" in lines[-1]
    codes = lines[1:3]
    assert all(code.startswith("rc-") for code in codes)

    async with running_gateway(load_config(config)) as gateway, aiohttp.ClientSession() as session:
        http = Http(session, gateway.url)
        status, done = await http.call("POST", "/v1/key/redeem", secret, {"code": codes[0]})
        assert status == 200 and done["quota_usd"] == 4.0, done
    keys = await cli(capsys, "keys", "list", "--config", config)
    file_key = next(row.split()[0] for row in keys.stdout.splitlines()[1:] if row.split()[1] == "from-file")
    refused = await cli(capsys, "keys", "top-up", file_key, "1", "--config", config)
    assert refused.returncode == 1 and "config file" in refused.stderr, refused.stderr

    listed = await cli(capsys, "redemptions", "list", "--batch", "cli-promo", "--config", config)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:5] == ["ID", "BATCH", "PREFIX", "USD", "STATE"]
    states = {row.split()[2]: row.split() for row in rows}
    assert {row[4] for row in states.values()} == {"used", "unused"}
    assert codes[0][:8] + "…" in states and codes[0] not in listed.stdout and codes[1] not in listed.stdout
    unused_id = next(row[0] for row in states.values() if row[4] == "unused")
    used_id = next(row[0] for row in states.values() if row[4] == "used")
    assert states[codes[0][:8] + "…"][-1] == key_id  # used by the key

    disabled = await cli(capsys, "redemptions", "disable", unused_id, "--config", config)
    assert disabled.returncode == 0 and "is disabled" in disabled.stdout
    refused = await cli(capsys, "redemptions", "disable", used_id, "--config", config)
    assert refused.returncode == 1 and "already redeemed" in refused.stderr
    only = await cli(capsys, "redemptions", "list", "--state", "disabled", "--config", config)
    assert [row.split()[0] for row in only.stdout.splitlines()[1:]] == [unused_id]
    bad = await cli(capsys, "redemptions", "create", "x", "--count", "0", "--usd", "1", "--config", config)
    assert bad.returncode == 2 and "count" in bad.stderr
