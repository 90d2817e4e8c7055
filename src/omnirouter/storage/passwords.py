"""Users' passwords: Argon2id hashes through argon2-cffi (a maintained binding of the reference implementation).

Unlike client keys (random, hashed with a fast SHA-256), passwords are chosen by people and may be
guessed, so they get a slow, memory-hard, salted hash: Argon2id with argon2-cffi's defaults (RFC 9106's
low-memory profile: 64 MiB, 3 passes, 4 lanes), stored in its encoded form (``$argon2id$v=19$...``),
which carries its own parameters and salt.  Hashing takes tens of milliseconds of CPU, so callers on the
event loop run these functions in a thread (``asyncio.to_thread``).  argon2-cffi is imported at the
first password a worker hashes or checks (console sign-ins), not by every worker.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = ["hash_password", "needs_rehash", "verify_password", "verify_password_against_nothing"]


@functools.cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """The encoded Argon2id hash of ``password`` (a new random salt each time)."""
    return _hasher().hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """Whether ``password`` matches ``encoded`` (a malformed hash matches nothing)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """Whether ``encoded`` was made with other parameters than today's (rehash it at the next sign-in)."""
    from argon2.exceptions import InvalidHashError

    try:
        return _hasher().check_needs_rehash(encoded)
    except InvalidHashError:
        return True


@functools.cache
def _stand_in() -> str:
    return _hasher().hash("no user has this password")


def verify_password_against_nothing(password: str) -> bool:
    """The same work as ``verify_password`` for a name with no password: so that a sign-in takes as long
    whether or not the user exists (no timing hint of which names do).  Always False."""
    verify_password(_stand_in(), password)
    return False
