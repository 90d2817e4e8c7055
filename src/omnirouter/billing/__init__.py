"""Billing: prices, costs, and the reserve → settle / refund money flow."""

from omnirouter.billing.ledger import Billing, Reservation

__all__ = ["Billing", "Reservation"]
