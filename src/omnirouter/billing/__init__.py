"""Billing: prices, costs, and the reserve → settle / refund → recover money flow (docs/accounts.md)."""

from omnirouter.billing.balance import balance_of, key_balance
from omnirouter.billing.cost import cost_nano, max_cost_nano, max_units_nano, nano_to_usd, usd_to_nano
from omnirouter.billing.ledger import Billing, Outcome, Reservation, Settlement
from omnirouter.billing.prices import Price, PriceBook, sync_config_prices

__all__ = [
    "Billing",
    "Outcome",
    "Price",
    "PriceBook",
    "Reservation",
    "Settlement",
    "balance_of",
    "cost_nano",
    "key_balance",
    "max_cost_nano",
    "max_units_nano",
    "nano_to_usd",
    "sync_config_prices",
    "usd_to_nano",
]
