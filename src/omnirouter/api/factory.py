"""The app factory uvicorn's workers import; the config path comes from the environment."""

from __future__ import annotations

import os

from omnirouter.api.app import GatewayApp
from omnirouter.config import load_config
from omnirouter.observability import configure_logging

CONFIG_ENV = "OMNIROUTER_CONFIG"


def create_app() -> GatewayApp:
    """Build a worker's app from the config file named in ``$OMNIROUTER_CONFIG`` (or the defaults)."""
    path = os.environ.get(CONFIG_ENV) or None
    config = load_config(path)
    configure_logging(config)  # a worker process does not inherit the parent's handlers
    return GatewayApp(config, tune_gc=True)
