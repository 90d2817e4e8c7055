"""Console sign-in: a session cookie in place of a key, for the admin API and the key holder's routes.

The sign-in form takes a key once, or a user's name and password (``POST /dashboard/api/session``;
``accounts.verify_user_password``); the browser then holds only an
HttpOnly, SameSite=Strict cookie (``Secure`` and ``__Host-`` named over HTTPS) with 256 random bits,
whose SHA-256 names a row of ``console_sessions`` (``storage/console_sessions.py``), so every worker
and replica knows it, it expires, and signing out deletes it.  The key is never written to the cookie,
the page or the URL.

The route table's guards for ``Auth.ADMIN_KEY`` and ``Auth.KEY_HOLDER`` are wrapped
(:meth:`ConsoleSessions.admin_guard`, :meth:`ConsoleSessions.key_holder_guard`): a request that carries a
key is checked as before; one that carries only the cookie is checked against its session: an admin
session for admin routes, a client-key session for the key holder's routes (never the other way), a
user's session for the user's routes (:meth:`ConsoleSessions.user_guard`) and for the key holder's routes of
one of its own keys, named by ``?key_id=`` (never another user's key, never an admin route), and
every state change (any method but GET / HEAD / OPTIONS) must send the session's CSRF token in
``X-CSRF-Token`` (a synchronizer token: an HMAC of the session token under the gateway's shared secret,
handed to the page in the sign-in answer and by ``GET /dashboard/api/session``, kept in memory only).

The playground (:meth:`ConsoleSessions.playground_key`): the chat routes accept an admin session in place
of a client key only for a request that carries no key, names the key to bill in
``X-Omnirouter-Console-Key`` (its id), sends the session's CSRF token, and, when the browser says where it
came from, comes from the gateway's own origin.  The request is then served and billed as that key's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import msgspec

from omnirouter.accounts import check_access, verify_user_password
from omnirouter.accounts.auth import extract_client_key
from omnirouter.gateway import Gateway
from omnirouter.http.asgi import Scope, header
from omnirouter.http.routes import Guard
from omnirouter.ir import ErrorKind, GatewayError
from omnirouter.storage import KeyRecord, hash_key
from omnirouter.storage.console_sessions import (
    ConsoleSession,
    delete_console_session,
    find_console_session,
    insert_console_session,
)
from omnirouter.storage.keys_repo import user_key_hash
from omnirouter.storage.users_repo import password_state

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "PLAYGROUND_HEADER",
    "SAFE_METHODS",
    "SESSION_TTL",
    "ConsoleSessions",
    "ConsoleUser",
    "SignedIn",
    "same_origin",
]

COOKIE = "omnirouter_console"
SECURE_COOKIE = "__Host-omnirouter_console"
CSRF_HEADER = b"x-csrf-token"
PLAYGROUND_HEADER = b"x-omnirouter-console-key"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_TTL = timedelta(hours=12)
ADMIN = "admin"
KEY = "key"
USER = "user"


class SignedIn(msgspec.Struct, kw_only=True):
    """What the page learns of its session: who, until when, and the CSRF token for state changes."""

    kind: str  # admin | key | user
    name: str
    key_id: int | None
    expires_at: datetime
    csrf_token: str
    user_id: int | None = None


class ConsoleUser(msgspec.Struct, frozen=True, kw_only=True):
    """A user signed in with a password: what the user's routes get as ``scope["auth"]``."""

    id: int
    name: str


def _user_credential(user_id: int, password_hash: str) -> str:
    """A user session's credential: the user id and a digest of the password hash it signed in against, so a
    changed (or removed) password ends the session."""
    return f"{user_id}:{_digest(password_hash)}"


def _bad_password() -> GatewayError:
    return GatewayError(ErrorKind.AUTHENTICATION, "That user name and password do not match.", code="invalid_password")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _ended() -> GatewayError:
    return GatewayError(
        ErrorKind.AUTHENTICATION, "Your console session has ended; sign in again.", code="session_expired"
    )


def cookie_value(scope: Scope, names: tuple[str, ...] = (SECURE_COOKIE, COOKIE)) -> str | None:
    """The session cookie's value, if the request carries one."""
    for key, value in scope["headers"]:
        if key != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            name, _, found = part.strip().partition("=")
            if name in names and found:
                return str(found)
    return None


def same_origin(scope: Scope) -> None:
    """Refuse a request posted from another site (when the browser says where it came from)."""
    origin = header(scope, b"origin")
    if origin is None:
        return
    host = header(scope, b"host") or b""
    if urlsplit(origin.decode("latin-1")).netloc.encode("latin-1").lower() != host.lower():
        raise GatewayError(ErrorKind.PERMISSION, "Cross-site requests to the console are refused.", code="cross_site")


class ConsoleSessions:
    """Sign in, sign out, and the session checks the route table's guards run."""

    def __init__(self, gateway: Gateway, admin_key: str | None, clock: Callable[[], datetime] | None = None) -> None:
        self.gateway = gateway
        self._admin = _digest(admin_key) if admin_key else None
        self._now = clock or (lambda: datetime.now(UTC))
        self._secure_origin = (gateway.config.public_url or "").startswith("https://")

    # -- cookies ---------------------------------------------------------------------------------------

    def secure(self, scope: Scope) -> bool:
        """Whether the browser reaches the gateway over HTTPS (then the cookie is ``Secure``)."""
        return scope.get("scheme") == "https" or self._secure_origin

    def set_cookie(self, scope: Scope, token: str) -> bytes:
        """The ``Set-Cookie`` value that hands the browser a session."""
        name = SECURE_COOKIE if self.secure(scope) else COOKIE
        seconds = int(SESSION_TTL.total_seconds())
        flags = "; Secure" if self.secure(scope) else ""
        return f"{name}={token}; Path=/; Max-Age={seconds}; HttpOnly; SameSite=Strict{flags}".encode()

    def clear_cookie(self, scope: Scope) -> bytes:
        """The ``Set-Cookie`` value that removes the session cookie."""
        name = SECURE_COOKIE if self.secure(scope) else COOKIE
        flags = "; Secure" if self.secure(scope) else ""
        return f"{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{flags}".encode()

    def csrf_token(self, token: str) -> str:
        """The session's CSRF token: an HMAC of its cookie token under the gateway's shared secret."""
        mac = hmac.new(self.gateway.url_secret, b"console csrf\n" + token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    # -- sign in / out ---------------------------------------------------------------------------------

    async def sign_in(self, scope: Scope, key: str) -> tuple[str, SignedIn]:
        """Open a session for ``key`` (the admin key or an active client key): the cookie token and the
        page's view of it; a 401 for any other key, a 403 for a client key refused at this address."""
        kind, name, key_id, credential = self._credential(scope, key)
        return await self._open(kind, name, key_id, credential)

    async def sign_in_user(self, name: str, password: str) -> tuple[str, SignedIn]:
        """Open a session for the active user ``name`` whose password is ``password``; a 401 otherwise
        (the same answer, in about the same time, whatever the reason)."""
        signed = await verify_user_password(self.gateway.db, name, password)
        if signed is None:
            raise _bad_password()
        async with self.gateway.db.engine.connect() as conn:
            state = await password_state(conn, signed.user.id)
        if state is None or state[2] is None:  # removed between the check and now
            raise _bad_password()
        credential = _user_credential(signed.user.id, state[2])
        token, opened = await self._open(USER, signed.user.name, None, credential)
        opened.user_id = signed.user.id
        return token, opened

    async def _open(self, kind: str, name: str, key_id: int | None, credential: str) -> tuple[str, SignedIn]:
        token = secrets.token_urlsafe(32)
        now = self._now()
        session = ConsoleSession(
            token_hash=_digest(token),
            kind=kind,
            credential=credential,
            key_id=key_id,
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
        async with self.gateway.db.engine.begin() as conn:
            await insert_console_session(conn, session, now)
        return token, self._signed_in(session, name, token)

    def _credential(self, scope: Scope, key: str) -> tuple[str, str, int | None, str]:
        key_hash = hash_key(key)
        record = self.gateway.auth.by_hash(key_hash)
        if self._admin is not None and hmac.compare_digest(_digest(key), self._admin):
            if record is not None:
                raise GatewayError(
                    ErrorKind.PERMISSION,
                    "The admin key is also a client key; use a separate admin key.",
                    code="admin_key_is_client_key",
                )
            return ADMIN, "admin", None, self._admin
        if record is None:
            raise GatewayError(ErrorKind.AUTHENTICATION, "That key is not valid here.", code="invalid_key")
        check_access(msgspec.structs.replace(record, models=None), scope, "")  # expiry and IP allow-list
        return KEY, record.name, record.id, key_hash

    def _signed_in(self, session: ConsoleSession, name: str, token: str) -> SignedIn:
        return SignedIn(
            kind=session.kind,
            name=name,
            key_id=session.key_id,
            expires_at=session.expires_at,
            csrf_token=self.csrf_token(token),
        )

    async def current(self, scope: Scope) -> SignedIn:
        """The request's session as the page sees it (a 401 when there is none)."""
        token = cookie_value(scope)
        if token is None:
            raise GatewayError(ErrorKind.AUTHENTICATION, "Not signed in.", code="not_signed_in")
        session = await self._session(token)
        if session.kind == ADMIN:
            self._admin_valid(session)
            return self._signed_in(session, "admin", token)
        if session.kind == USER:
            user = await self._user_valid(session)
            signed_in = self._signed_in(session, user.name, token)
            signed_in.user_id = user.id
            return signed_in
        record = self._key_valid(scope, session)
        return self._signed_in(session, record.name, token)

    async def sign_out(self, scope: Scope) -> None:
        """Delete the request's session (its CSRF token is required); signing out twice is no error."""
        token = cookie_value(scope)
        if token is None:
            return
        self._check_csrf(scope, token)
        async with self.gateway.db.engine.begin() as conn:
            await delete_console_session(conn, _digest(token))

    # -- the guards ------------------------------------------------------------------------------------

    def admin_guard(self, check: Guard) -> Guard:
        """``check`` (the admin key in ``Authorization``) for requests with a header, else the admin session."""

        def guard(scope: Scope) -> object:
            token = None if header(scope, b"authorization") is not None else cookie_value(scope)
            if token is None or self._admin is None:
                return check(scope)
            return self._admin_session(scope, token)

        return guard

    def key_holder_guard(self, check: Guard) -> Guard:
        """``check`` (a client key) for requests that carry one, else the client-key session."""

        def guard(scope: Scope) -> object:
            token = None if extract_client_key(scope) is not None else cookie_value(scope)
            if token is None:
                return check(scope)
            return self._key_session(scope, token)

        return guard

    def user_guard(self) -> Guard:
        """The user's routes: only a user's session (a key, a key's or the admin's session is a 401)."""

        def guard(scope: Scope) -> object:
            token = cookie_value(scope)
            if token is None:
                raise GatewayError(
                    ErrorKind.AUTHENTICATION,
                    "Sign in to the console with a user name and password first.",
                    code="not_signed_in",
                )
            return self._user_session(scope, token)

        return guard

    def _user_session(self, scope: Scope, token: str) -> Awaitable[ConsoleUser]:
        async def checked() -> ConsoleUser:
            session = await self._session(token)
            if session.kind != USER:
                raise GatewayError(
                    ErrorKind.AUTHENTICATION,
                    "This console session is not a user's; sign in with a user name and password.",
                    code="not_user_session",
                )
            user = await self._user_valid(session)
            self._check_csrf_on_changes(scope, token)
            return user

        return checked()

    def _admin_session(self, scope: Scope, token: str) -> Awaitable[None]:
        async def checked() -> None:
            await self._admin_only(token, "This console session is not the admin's; the admin API needs the admin key.")
            self._check_csrf_on_changes(scope, token)

        return checked()

    async def _admin_only(self, token: str, refusal: str) -> None:
        """The session is the admin's, opened with today's admin key; else 403 ``refusal`` (or ended)."""
        session = await self._session(token)
        if session.kind != ADMIN:
            raise GatewayError(ErrorKind.PERMISSION, refusal, code="not_admin_session", status=403)
        self._admin_valid(session)

    def _key_session(self, scope: Scope, token: str) -> Awaitable[KeyRecord]:
        async def checked() -> KeyRecord:
            session = await self._session(token)
            if session.kind == USER:
                record = await self._user_key(scope, await self._user_valid(session))
            elif session.kind != KEY:
                raise GatewayError(
                    ErrorKind.AUTHENTICATION,
                    "This console session is the admin's; a key holder's routes need a client key.",
                    code="not_key_session",
                )
            else:
                record = self._key_valid(scope, session)
            self._check_csrf_on_changes(scope, token)
            return record

        return checked()

    # -- the playground --------------------------------------------------------------------------------

    async def playground_key(self, scope: Scope, missing: GatewayError) -> KeyRecord:
        """The key a chat request from the console's playground is billed to: the request carries no key
        (``missing`` is that 401) but an admin session's cookie, its CSRF token and the key's id in
        ``X-Omnirouter-Console-Key``.  A request without that header is refused with ``missing``."""
        chosen = header(scope, PLAYGROUND_HEADER)
        token = cookie_value(scope)
        if chosen is None or token is None:
            raise missing
        same_origin(scope)
        await self._admin_only(token, "Only the admin's console session may use the playground.")
        self._check_csrf(scope, token)
        text = chosen.decode("latin-1").strip()
        record = self.gateway.auth.by_id(int(text)) if text.isascii() and text.isdigit() and len(text) < 19 else None
        if record is None:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                "X-Omnirouter-Console-Key must be the id of an active client key.",
                code="console_key_not_found",
                param="X-Omnirouter-Console-Key",
            )
        return record

    async def _session(self, token: str) -> ConsoleSession:
        async with self.gateway.db.engine.connect() as conn:
            session = await find_console_session(conn, _digest(token), self._now())
        if session is None:
            raise _ended()
        return session

    def _admin_valid(self, session: ConsoleSession) -> None:
        """The admin key the session was opened with is still the admin key."""
        if self._admin is None or not hmac.compare_digest(session.credential, self._admin):
            raise _ended()

    def _key_valid(self, scope: Scope, session: ConsoleSession) -> KeyRecord:
        """The client key the session was opened with is still active (not revoked, rotated or expired)."""
        record = self.gateway.auth.by_hash(session.credential)
        if record is None:
            raise _ended()
        check_access(msgspec.structs.replace(record, models=None), scope, "")
        return record

    async def _user_valid(self, session: ConsoleSession) -> ConsoleUser:
        """The user the session was opened for is still active, with the password it signed in with."""
        user_id = int(session.credential.partition(":")[0])
        async with self.gateway.db.engine.connect() as conn:
            state = await password_state(conn, user_id)
        if state is None:
            raise _ended()
        name, status, password_hash = state
        if status != "active" or password_hash is None:
            raise _ended()
        if not hmac.compare_digest(session.credential, _user_credential(user_id, password_hash)):
            raise _ended()
        return ConsoleUser(id=user_id, name=name)

    async def _user_key(self, scope: Scope, user: ConsoleUser) -> KeyRecord:
        """The active key of ``user`` that the request names with ``?key_id=`` (a user's session sees its own
        keys only: another user's key is a 404, as if it did not exist)."""
        raw: bytes = scope.get("query_string", b"")
        value = dict(parse_qsl(raw.decode("latin-1"))).get("key_id", "")
        if not (value.isascii() and value.isdigit() and 0 < int(value) < 2**63):
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                "Name one of your keys: ?key_id=N (GET /v1/user/keys lists them).",
                code="key_id_required",
                param="key_id",
            )
        async with self.gateway.db.engine.connect() as conn:
            key_hash = await user_key_hash(conn, int(value), user.id)
        if key_hash is None:
            raise GatewayError(
                ErrorKind.NOT_FOUND, f"You have no key with id {value}.", code="key_not_found", param="key_id"
            )
        record = self.gateway.auth.by_hash(key_hash)
        if record is None:
            raise GatewayError(
                ErrorKind.PERMISSION,
                f"The key {value} is not active (disabled or revoked).",
                code="key_inactive",
                param="key_id",
                status=403,
            )
        check_access(msgspec.structs.replace(record, models=None), scope, "")
        return record

    def _check_csrf_on_changes(self, scope: Scope, token: str) -> None:
        """A session's request that may change state (not GET, HEAD or OPTIONS) must carry its CSRF token."""
        if scope["method"] not in SAFE_METHODS:
            self._check_csrf(scope, token)

    def _check_csrf(self, scope: Scope, token: str) -> None:
        sent = header(scope, CSRF_HEADER) or b""
        if not sent or not hmac.compare_digest(sent, self.csrf_token(token).encode()):
            raise GatewayError(
                ErrorKind.PERMISSION,
                "Missing or wrong CSRF token: send the session's token in X-CSRF-Token.",
                code="csrf_token_invalid",
                status=403,
            )
