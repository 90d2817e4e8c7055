"""Accounts: who may use a key, from where, for which models."""

from omnirouter.accounts.access import check_access, client_address

__all__ = ["check_access", "client_address"]
