"""Routing: channels, the model catalog, and the attempt planner."""

from omnirouter.routing.catalog import ModelCatalog
from omnirouter.routing.channel import Channel
from omnirouter.routing.planner import Attempt, order_channels, plan, plan_with_fallbacks

__all__ = ["Attempt", "Channel", "ModelCatalog", "order_channels", "plan", "plan_with_fallbacks"]
