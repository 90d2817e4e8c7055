"""Relay: one attempt of a synchronous call, from the client's body to the client's answer.

An ``Operation`` (``relay/operation.py``) is what the one request lifecycle asks of a kind of call;
``ChatOperation`` is the chat one: it reads and checks a chat request and runs it through one planned
attempt at a time (pass-through when both sides speak the same protocol, else translated through the
IR), streaming with ``pump_stream``; the ``RequestContext`` collects what the gateway learns about
the request.  Upstream calls themselves
are the transport's.
"""

from omnirouter.relay.chat import ChatExtension, ChatOperation
from omnirouter.relay.context import RequestContext, new_request_id
from omnirouter.relay.images import inline_images, needs_inlining
from omnirouter.relay.operation import Exchange, Inbound, Operation
from omnirouter.relay.stream_pump import KeepAlive, pump_stream

__all__ = [
    "ChatExtension",
    "ChatOperation",
    "Exchange",
    "Inbound",
    "KeepAlive",
    "Operation",
    "RequestContext",
    "inline_images",
    "needs_inlining",
    "new_request_id",
    "pump_stream",
]
