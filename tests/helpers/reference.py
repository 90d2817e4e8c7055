"""Where the vendored reference data lives: ``tests/reference_data`` (see its PROVENANCE.md).

Nothing the suite reads comes from outside the repository.
"""

from __future__ import annotations

from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "reference_data"
FIXTURES = REFERENCE / "streams"
OPENAPI_SPEC = REFERENCE / "openai-openapi.json"
