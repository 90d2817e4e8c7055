"""``omnirouter keys create|list|revoke|rotate`` and ``omnirouter usage`` as subprocesses, beside a running gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from omnirouter.config import load_config
from omnirouter.mock_upstream import MockUpstream
from tests.helpers.admin_client import Http
from tests.helpers.gateway_harness import CLIENT_KEY, running_gateway, write_cli_config
from tests.helpers.processes import cli, run_cli


async def test_keys_and_usage_commands_while_a_gateway_runs(
    tmp_path: Path, mock_upstream: MockUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_cli_config(tmp_path / "omnirouter.yaml", mock_upstream.url)
    async with running_gateway(load_config(config)) as gateway, aiohttp.ClientSession() as session:
        http = Http(session, gateway.url)
        created = await run_cli(
            "keys", "create", "ci-bot", "--quota", "5", "--rpm", "60", "--models", "gpt-4o*",
            "--user", "ops", "--expires", "2099-12-31", "--config", config,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        lines = created.stdout.splitlines()
        secret = lines[1]
        assert secret.startswith("sk-or-") and "not shown again" in lines[2]

        async def accepted() -> int:
            for _ in range(100):
                status = (await http.chat(secret))[0]
                if status != 401:
                    return status
                await asyncio.sleep(0.05)
            return 401

        assert await accepted() == 200  # the running gateway reloaded without a restart
        assert (await http.chat(secret, "gpt-test-1"))[0] == 403  # the model allow-list applies

        listed = await run_cli("keys", "list", "--config", config)
        assert listed.returncode == 0, listed.stderr
        header, *rows = listed.stdout.splitlines()
        assert header.split()[:5] == ["ID", "NAME", "PREFIX", "STATUS", "SOURCE"]
        by_name = {row.split()[1]: row.split() for row in rows}
        assert by_name["from-file"][4] == "config" and by_name["ci-bot"][4] == "api"
        assert "$5" in by_name["ci-bot"] and "60" in by_name["ci-bot"]
        assert secret not in listed.stdout and CLIENT_KEY not in listed.stdout
        key_id = by_name["ci-bot"][0]

        refused = await cli(capsys, "keys", "revoke", by_name["from-file"][0], "--config", config)
        assert refused.returncode == 1 and "config file" in refused.stderr
        missing = await cli(capsys, "keys", "revoke", "9999", "--config", config)
        assert missing.returncode == 1 and "No key with id 9999" in missing.stderr
        bad = await cli(capsys, "keys", "create", "x", "--quota", "lots", "--config", config)
        assert bad.returncode == 1 and "quota_usd" in bad.stderr

        usage = await cli(capsys, "usage", "--by", "key", "--since", "2000-01-01", "--config", config)
        assert usage.returncode == 0, usage.stderr
        header, *rows = usage.stdout.splitlines()
        assert header.split()[:3] == ["KEY", "REQUESTS", "ERRORS"] and rows[-1].split()[:3] == ["TOTAL", "2", "1"]
        assert any("(ci-bot)" in row for row in rows)

        revoked = await run_cli("keys", "revoke", key_id, "--config", config)
        assert revoked.returncode == 0 and "Revoked key" in revoked.stdout

        served_before_reload = 0  # requests the gateway still took before it reloaded: each has its usage row

        async def refused_now() -> bool:
            nonlocal served_before_reload
            for _ in range(100):
                if (await http.chat(secret))[0] == 401:
                    return True
                served_before_reload += 1
                await asyncio.sleep(0.05)
            return False

        assert await refused_now()
        only_revoked = await cli(capsys, "keys", "list", "--status", "revoked", "--config", config)
        assert [row.split()[1] for row in only_revoked.stdout.splitlines()[1:]] == ["ci-bot"]
    by_day = await cli(capsys, "usage", "--by", "day", "--config", config)
    total = by_day.stdout.splitlines()[-1].split()[:2]
    assert by_day.returncode == 0 and total == ["TOTAL", str(2 + served_before_reload)]


async def test_keys_rotate_and_config_errors(
    tmp_path: Path, mock_upstream: MockUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_cli_config(tmp_path / "omnirouter.yaml", mock_upstream.url)
    created = await cli(capsys, "keys", "create", "plain", "--config", config)
    assert created.returncode == 0, created.stderr
    first = created.stdout.splitlines()[1]
    key_id = created.stdout.split()[2]
    rotated = await cli(capsys, "keys", "rotate", key_id, "--config", config)
    assert rotated.returncode == 0 and rotated.stdout.splitlines()[1] not in (first, "")
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels: 3\n")
    for args in (("keys", "list"), ("usage",)):
        result = await cli(capsys, *args, "--config", str(bad))
        assert result.returncode == 2 and "config error" in result.stderr
    result = await cli(capsys, "usage", "--since", "whenever", "--config", config)
    assert result.returncode == 2 and "--since" in result.stderr
