"""Cluster: state shared by the workers and replicas of one deployment, through Redis.

With ``redis_url`` configured: rate-limit windows (``limits.RedisLimiter``), circuit breaker
transitions (``breakers``) and change notices for reloading keys, prices and channels
(``notify``) travel through one Redis (clients from ``storage.redis``); without it, each process
keeps its own (``MemoryLimiter``) and notices go nowhere.  ``SharedState`` builds the set for a
``Gateway``.  (The loggers keep their old name, ``omnirouter.shared``, so log filters still match.)
"""

from omnirouter.cluster.breakers import BreakerSync
from omnirouter.cluster.bus import Bus
from omnirouter.cluster.notify import ChangeCallback, ChangeNotifier
from omnirouter.cluster.state import SharedState

__all__ = ["BreakerSync", "Bus", "ChangeCallback", "ChangeNotifier", "SharedState"]
