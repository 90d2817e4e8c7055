"""Client authentication: find the key in any protocol's place, check it against stored hashes."""

from __future__ import annotations

from urllib.parse import parse_qsl

from omnirouter.http.asgi import Scope
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.storage import KeyRecord, hash_key

_KEY_HEADERS = (b"x-api-key", b"x-goog-api-key", b"api-key")
_MJ_SECRET = b"mj-api-secret"
_MJ_PREFIXES = ("/mj/", "/mj-fast/mj/", "/mj-relax/mj/", "/mj-turbo/mj/")


def _mj_route(scope: Scope) -> bool:
    """Whether the request is for a midjourney-proxy route (whose clients send ``mj-api-secret``)."""
    path: str = scope.get("path", "")
    return path.startswith(_MJ_PREFIXES)


def extract_client_key(scope: Scope) -> str | None:
    """The client key from ``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key``,
    ``api-key`` or the ``key`` query parameter, in that order; on the Midjourney routes (``/mj/…``,
    ``/mj-{fast,relax,turbo}/mj/…``) also from ``mj-api-secret``, as midjourney-proxy clients send it."""
    found: dict[bytes, bytes] = {}
    headers = (*_KEY_HEADERS, _MJ_SECRET) if _mj_route(scope) else _KEY_HEADERS
    for name, value in scope["headers"]:
        if name == b"authorization" or name in headers:
            found.setdefault(name, value)
    auth = found.get(b"authorization")
    if auth is not None:
        scheme, _, token = auth.partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            return token.strip().decode("latin-1")
    for name in headers:
        value = found.get(name)
        if value:
            return value.strip().decode("latin-1")
    query: bytes = scope.get("query_string", b"")
    if b"key=" in query:
        for name_str, value_str in parse_qsl(query.decode("latin-1")):
            if name_str == "key" and value_str:
                return value_str
    return None


_KNOWN_CAP = 4096
"""Presented keys remembered per key table (``Authenticator``); past it the memory starts over."""


class Authenticator:
    """Maps presented client keys to key records via their hashes (keys are stored only as hashes).

    A presented key that matched is remembered with its record until the key table is replaced
    (``replace``: every reload, and at once on this worker's own rotate, revoke or change), so the
    hot path does not hash the same key again on every request; a revoked or rotated key is refused
    exactly when it was before, since nothing outlives the table it was found in.  Only keys that
    matched are remembered (at most ``_KNOWN_CAP``), so unknown keys cannot fill the memory.
    """

    def __init__(self, keys_by_hash: dict[str, KeyRecord]) -> None:
        self._keys = keys_by_hash
        self._known: dict[str, KeyRecord] = {}  # presented key -> its record in ``_keys``

    def replace(self, keys_by_hash: dict[str, KeyRecord]) -> None:
        """Swap in a freshly loaded key table (and forget the keys found in the old one)."""
        self._keys = keys_by_hash
        self._known = {}

    def by_hash(self, key_hash: str) -> KeyRecord | None:
        """The active key whose stored hash is ``key_hash`` (a console session holds the hash, never the key)."""
        return self._keys.get(key_hash)

    def by_id(self, key_id: int) -> KeyRecord | None:
        """The active key with id ``key_id`` (a scan: for the console's playground, not the hot path)."""
        return next((record for record in self._keys.values() if record.id == key_id), None)

    def authenticate(self, scope: Scope) -> KeyRecord:
        """The record of the presented key, or a 401 error."""
        key = extract_client_key(scope)
        if key is None:
            raise GatewayError(
                ErrorKind.AUTHENTICATION,
                "Missing API key: send it as 'Authorization: Bearer <key>' (or x-api-key, x-goog-api-key).",
                code="missing_api_key",
            )
        known = self._known
        record = known.get(key)
        if record is not None:
            return record
        record = self._keys.get(hash_key(key))
        if record is None:
            raise GatewayError(ErrorKind.AUTHENTICATION, "Invalid API key.", code="invalid_api_key")
        if len(known) >= _KNOWN_CAP:
            known.clear()
        known[key] = record
        return record
