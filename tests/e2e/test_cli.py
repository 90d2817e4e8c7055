"""The ``omnirouter`` command as a user runs it: serve with and without a config, config errors, workers."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from omnirouter.mock_upstream import MockUpstream
from tests.helpers.processes import OMNIROUTER, free_port, start, stop, wait_healthy


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_serve_on_embedded_defaults_starts_demo_mode_with_the_database_in_the_working_dir(workdir: Path) -> None:
    port = free_port()
    process = start(["serve", "--port", str(port)], workdir)
    try:
        wait_healthy(port, process)
    finally:
        out = stop(process)
    assert f"http://127.0.0.1:{port}" in out
    assert "DEMO MODE" in out and "\ndemo key: sk-or-" in out  # tests/e2e/test_demo_mode.py drives it
    assert (workdir / "omnirouter.db").exists()


def test_config_error_names_file_key_and_reason(workdir: Path) -> None:
    config = workdir / "bad.yaml"
    config.write_text("channels:\n  - name: a\n    provider: openai\n    base_url: http://x/v1\n    api_keys: []\n")
    result = subprocess.run(
        [*OMNIROUTER, "serve", "--config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert f"{config}: channels[0].models" in result.stderr
    assert "Traceback" not in result.stderr


async def test_serve_with_config_env_substitution_two_workers_and_flush_on_sigterm(
    workdir: Path, mock_upstream: MockUpstream
) -> None:
    port = free_port()
    config = workdir / "omnirouter.yaml"
    config.write_text(
        f"""
database_url: sqlite:///{workdir}/gw.db
usage_flush_interval: 60   # long: only the shutdown flush can have written the rows
channels:
  - name: up-openai
    provider: openai
    base_url: {mock_upstream.url}/v1
    api_keys: [${{UPSTREAM_KEY}}]
    models: [gpt-4o-mini]
keys:
  - name: demo
    key: sk-demo-0001
prices:
  gpt-4o-mini: {{input: 0.15, output: 0.60}}
"""
    )
    process = start(
        ["serve", "--config", str(config), "--port", str(port), "--workers", "2"],
        workdir,
        env={"UPSTREAM_KEY": "sk-from-env-77"},
    )
    try:
        await asyncio.to_thread(wait_healthy, port, process)
        async with openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-demo-0001", max_retries=0
        ) as client:
            for i in range(6):
                response = await client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"n{i}"}]
                )
                assert response.choices[0].message.content == f"Echo: n{i}"
        assert mock_upstream.requests[-1].headers["authorization"] == "Bearer sk-from-env-77"
    finally:
        await asyncio.to_thread(stop, process)
    with sqlite3.connect(workdir / "gw.db") as conn:
        count = conn.execute("select count(*) from usage_records where status_code = 200").fetchone()[0]
        stored = conn.execute("select key_hash from api_keys").fetchall()
    assert count == 6
    assert all("sk-demo-0001" not in row[0] for row in stored)
