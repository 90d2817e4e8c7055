"""Accounts: which client key is calling (``Authenticator``), and whether it may, from where, for which models."""

from omnirouter.accounts.access import check_access, client_address
from omnirouter.accounts.auth import Authenticator, extract_client_key

__all__ = ["Authenticator", "check_access", "client_address", "extract_client_key"]
