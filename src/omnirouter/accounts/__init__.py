"""Accounts: which client key is calling (``Authenticator``), and whether it may, from where, for which models;
users signing in with a password (``verify_user_password``)."""

from omnirouter.accounts.access import check_access, client_address
from omnirouter.accounts.auth import Authenticator, extract_client_key
from omnirouter.accounts.users import SignedIn, verify_user_password

__all__ = [
    "Authenticator",
    "SignedIn",
    "check_access",
    "client_address",
    "extract_client_key",
    "verify_user_password",
]
