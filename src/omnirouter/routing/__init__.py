"""Routing: plain data and logic, no aiohttp: channels, the model catalog, the attempt planner and executor.

Breakers (``breaker``), upstream key pools (``upstream_keys``) and operator probes (``probe``, whose calls go through
``transport``) are imported from their modules.
"""

from omnirouter.routing.catalog import ModelCatalog
from omnirouter.routing.channel import Channel
from omnirouter.routing.executor import AttemptLog, run_attempts
from omnirouter.routing.planner import Attempt, order_channels, plan, plan_with_fallbacks

__all__ = [
    "Attempt",
    "AttemptLog",
    "Channel",
    "ModelCatalog",
    "order_channels",
    "plan",
    "plan_with_fallbacks",
    "run_attempts",
]
