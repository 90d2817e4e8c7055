"""The real coding-agent CLIs through the gateway to a model of every vendor (scripts/agents/smoke.sh).

Claude Code, Codex CLI and Gemini CLI, pinned by ``scripts/agents/package-lock.json`` and installed
once with ``npm ci`` into the git-ignored ``.cache/agents`` (≈750 MB, ~30 s from the npm registry on
a clean clone), each run one-shot against the mock upstream behind a gateway: a plain prompt and a
prompt whose scripted answer calls the CLI's own read-only tool (Claude Code ``Read``, Codex
``exec_command`` ``cat``, Gemini CLI ``read_file``), for an OpenAI Chat, an Anthropic and a Gemini
model. A row passes when the CLI exits 0, every upstream request went to that vendor, the tool
result came back through the gateway (two upstream calls) and the CLI printed the whole answer.
See docs/agents.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "scripts" / "agents" / "smoke.sh"


@pytest.mark.parametrize("cli", ["claude", "codex", "gemini"])
def test_coding_agent_cli_through_gateway(cli: str) -> None:
    omnirouter = Path(sys.executable).parent / "omnirouter"
    env = {
        **os.environ,
        "AGENTS_CACHE": str(REPO / ".cache" / "agents"),
        "OMNIROUTER": str(omnirouter),
        "CASES": "text tool",
        "CALL_TIMEOUT": "60",
    }
    result = subprocess.run(
        ["bash", str(SMOKE), cli], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, (
        f"smoke.sh {cli} exited {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
    )
    rows = [line for line in result.stdout.splitlines() if line.startswith(cli + " ")]
    assert len(rows) == 6, result.stdout
    assert all(line.rstrip().endswith("PASS") for line in rows), result.stdout
