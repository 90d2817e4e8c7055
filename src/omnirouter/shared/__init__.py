"""State shared by the workers and replicas of one deployment.

With ``redis_url`` configured: rate-limit windows (``limits.RedisLimiter``), circuit breaker
transitions (``breakers``) and change notices for reloading keys, prices and channels
(``notify``) travel through one Redis; without it, each process keeps its own (``MemoryLimiter``)
and notices go nowhere.  ``state.SharedState`` builds the set for a ``Gateway``.
"""

from omnirouter.shared.breakers import BreakerSync
from omnirouter.shared.bus import Bus
from omnirouter.shared.notify import ChangeCallback, ChangeNotifier

__all__ = ["BreakerSync", "Bus", "ChangeCallback", "ChangeNotifier"]
