"""What a serving worker imports: the mock upstream (aiohttp's server, numpy, Pillow, PyAV: ~20 MB) only in demo
mode, and no OpenTelemetry SDK unless traces are configured."""

from __future__ import annotations

import subprocess
import sys

SERVE_IMPORTS = "import omnirouter.cli, omnirouter.cli_demo, omnirouter.api.factory, omnirouter.gateway"


def test_serving_without_demo_mode_leaves_the_mock_upstream_unimported() -> None:
    mock = "omnirouter.mock_upstream"
    probe = f"{SERVE_IMPORTS}; import sys; print(sorted(m for m in sys.modules if m.startswith({mock!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_tracing_sdk_and_exporter_are_not_imported_when_traces_are_off() -> None:
    # (redis 8 imports parts of the OpenTelemetry SDK's metrics on its own when installed: not ours.)
    tracing = ("opentelemetry.sdk.trace", "opentelemetry.exporter")
    probe = f"{SERVE_IMPORTS}; import sys; print(sorted(m for m in sys.modules if m.startswith({tracing!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
