"""The realtime relay: OpenAI's Realtime API over WebSocket (``GET /v1/realtime?model=…``), see docs/realtime.md.

``handshake`` reads the client's handshake and builds the upstream's; ``upstream`` opens the upstream
socket; ``frames`` checks frames and reads usage; ``relay`` pumps frames both ways under one guard;
``meter`` reserves and settles per response; ``session`` is the route's handler.  Sits above ``gateway``
and below ``api`` (which registers the route).
"""

from omnirouter.realtime.session import RealtimeEndpoint

__all__ = ["RealtimeEndpoint"]
