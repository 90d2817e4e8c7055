"""Where the shared reference data lives: ``../shared/reference`` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REFERENCE = Path(os.environ.get("OMNIROUTER_REFERENCE", Path(__file__).resolve().parents[2] / "shared" / "reference"))
FIXTURES = REFERENCE / "fixtures"
OPENAPI_SPEC = REFERENCE / "openai-openapi.json"
