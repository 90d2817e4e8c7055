"""Relay: one attempt of a synchronous call, from the client's body to the client's answer.

``ChatCall`` runs a chat request through one planned attempt (pass-through when both sides speak
the same protocol, else translated through the IR), streaming with ``pump_stream``; the
``RequestContext`` collects what the gateway learns about the request.  Upstream calls themselves
are the transport's.
"""

from omnirouter.relay.chat import ChatCall
from omnirouter.relay.context import RequestContext, new_request_id
from omnirouter.relay.images import inline_images, needs_inlining
from omnirouter.relay.stream_pump import KeepAlive, pump_stream

__all__ = [
    "ChatCall",
    "KeepAlive",
    "RequestContext",
    "inline_images",
    "needs_inlining",
    "new_request_id",
    "pump_stream",
]
