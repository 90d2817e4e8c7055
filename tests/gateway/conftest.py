"""Fixtures of the gateway tests beyond the shared ones: the vendor gateway (tests/helpers/vendor_gateway.py)."""

from tests.helpers.vendor_gateway import claude, oai, vendor_gateway

__all__ = ["claude", "oai", "vendor_gateway"]
