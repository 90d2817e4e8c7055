"""Transport: the shared upstream HTTP client."""

from omnirouter.transport.client import TRANSPORT_ERRORS, UpstreamClient, classify_transport_error

__all__ = ["TRANSPORT_ERRORS", "UpstreamClient", "classify_transport_error"]
