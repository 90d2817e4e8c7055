"""Transport: every call to an upstream, and the only importer of aiohttp in the gateway.

The worker's shared session (``UpstreamClient``: aiohttp, and ``H1Client``, the chat and media calls'
lean HTTP/1.1 client), one upstream call with its failures classified
(``open_upstream``, ``read_answer``, ``AttemptFailure``, ``RETRYABLE_STATUSES``), secrets scrubbed
from upstream error text, a whole-answer POST for probes (``post_whole``) and the SSRF-guarded
image fetch (``ImageFetcher``).  Channels and attempts come in through ``UpstreamChannel`` and
``UpstreamAttempt``, structural types that ``routing`` satisfies: routing sits above transport.
"""

from omnirouter.transport.client import (
    TRANSPORT_ERRORS,
    ChatResponse,
    Session,
    UpstreamClient,
    UpstreamResponse,
    call_timeouts,
    classify_transport_error,
)
from omnirouter.transport.fetch import ImageFetcher
from omnirouter.transport.h1_client import H1Client
from omnirouter.transport.media_call import MediaChannel, MediaResponse, build_call, follow_calls, open_call
from omnirouter.transport.upstream import (
    RETRYABLE_STATUSES,
    AttemptFailure,
    UpstreamAttempt,
    UpstreamChannel,
    open_upstream,
    overran,
    post_whole,
    read_answer,
    read_at_most,
    scrubbed,
    too_large,
)

__all__ = [
    "RETRYABLE_STATUSES",
    "TRANSPORT_ERRORS",
    "AttemptFailure",
    "ChatResponse",
    "H1Client",
    "ImageFetcher",
    "MediaChannel",
    "MediaResponse",
    "Session",
    "UpstreamAttempt",
    "UpstreamChannel",
    "UpstreamClient",
    "UpstreamResponse",
    "build_call",
    "call_timeouts",
    "classify_transport_error",
    "follow_calls",
    "open_call",
    "open_upstream",
    "overran",
    "post_whole",
    "read_answer",
    "read_at_most",
    "scrubbed",
    "too_large",
]
