"""Usage: records built on the request path, written in batches off it."""

from omnirouter.usage.query import recent_usage
from omnirouter.usage.record import UsageRecord
from omnirouter.usage.recorder import UsageRecorder

__all__ = ["UsageRecord", "UsageRecorder", "recent_usage"]
