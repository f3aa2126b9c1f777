"""Server-side sessions of the standalone admin: the cookie holds only an opaque random id.

Layer: web auth (Redis). Idle and absolute lifetimes; sign-out everywhere and a password change
end all of that person's sessions (the owner's, or one team member's); every sign-in gets a
new id (no fixation).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask, Request, session
from flask.sessions import SessionInterface, SessionMixin, session_json_serializer
from werkzeug.datastructures import CallbackDict
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

IDLE_LIFETIME = 12 * 3600
ABSOLUTE_LIFETIME = 14 * 24 * 3600
# A session nobody signed in to holds only a CSRF token for the sign-in form.
ANONYMOUS_LIFETIME = 3600
SESSION_PREFIX = "kizuna:session"
ACCOUNT_SESSIONS_PREFIX = "kizuna:account-sessions"
_ID_BYTES = 32
_MAX_ID_LENGTH = 64


def session_key(session_id: str) -> str:
    # Stored under a hash: a copy of Redis's keys does not hand out usable cookies.
    return f"{SESSION_PREFIX}:{hashlib.sha256(session_id.encode()).hexdigest()}"


def account_sessions_key(account_id: int) -> str:
    return f"{ACCOUNT_SESSIONS_PREFIX}:{account_id}"


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """The session data of one browser; `renew` gives it a new id when it is saved."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        session_id: str | None = None,
        created: float | None = None,
    ) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial, on_update)
        self.session_id = session_id
        self.created = created
        self.new = session_id is None
        self.modified = False
        self.renew = False


def _account_of(data: dict[str, Any]) -> int | None:
    account_id = data.get("account_id")
    return account_id if isinstance(account_id, int) else None


class ServerSessionInterface(SessionInterface):
    """Flask's session interface over Redis; the Redis client is the app's (`kizuna().redis`)."""

    def _redis(self, app: Flask) -> redis.Redis:
        client: redis.Redis = app.extensions["kizuna"].redis
        return client

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        session_id = request.cookies.get(self.get_cookie_name(app), "")
        if not session_id or len(session_id) > _MAX_ID_LENGTH:
            return ServerSession()
        try:
            raw: Any = self._redis(app).get(session_key(session_id))
        except redis.RedisError as error:
            # Pages that need no sign-in (unsubscribe, health) keep working; admin pages sign in.
            log.warning("session store unreachable error=%s", type(error).__name__)
            return ServerSession()
        if raw is None:
            return ServerSession()
        try:
            stored = json.loads(raw)
            created = float(stored["created"])
            data = session_json_serializer.loads(stored["data"])
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable session data dropped")
            return ServerSession()
        if time.time() - created > ABSOLUTE_LIFETIME:
            try:
                self._delete(app, session_id, _account_of(data))
            except redis.RedisError as error:
                log.warning("expired session not deleted error=%s", type(error).__name__)
            return ServerSession()
        return ServerSession(data, session_id, created)

    def _delete(self, app: Flask, session_id: str, account_id: int | None) -> None:
        pipe = self._redis(app).pipeline()
        pipe.delete(session_key(session_id))
        if account_id is not None:
            pipe.srem(account_sessions_key(account_id), session_key(session_id))
        pipe.execute()

    def _lifetime_left(self, data: ServerSession, now: float) -> int:
        if _account_of(data) is None:
            return ANONYMOUS_LIFETIME
        assert data.created is not None  # noqa: S101 - set before any save
        return max(1, min(IDLE_LIFETIME, int(data.created + ABSOLUTE_LIFETIME - now)))

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        try:
            self._save(app, session, response)
        except redis.RedisError as error:
            # The answer itself is complete (a webhook is stored, a page rendered): it is not
            # turned into a 500 because the session store is down; the change is not kept.
            log.warning("session not saved: store unreachable error=%s", type(error).__name__)

    def _save(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)  # noqa: S101 - this interface opened it
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session.session_id is not None and (session.renew or not session):
            # Signed out, or the session changes hands (sign-in): the old id stops working.
            self._delete(app, session.session_id, _account_of(session))
            session.session_id = None
            if not session:
                response.delete_cookie(name, domain=domain, path=path)
                response.vary.add("Cookie")
                return
        if not session:
            return
        now = time.time()
        client = self._redis(app)
        response.vary.add("Cookie")
        if session.session_id is not None and not session.modified:
            client.expire(session_key(session.session_id), self._lifetime_left(session, now))
            return
        fresh = session.session_id is None
        if fresh:
            session.session_id = secrets.token_urlsafe(_ID_BYTES)
            session.created = now
        assert session.session_id is not None  # noqa: S101 - set just above
        key = session_key(session.session_id)
        payload = json.dumps(
            {"created": session.created, "data": session_json_serializer.dumps(dict(session))}
        )
        # An existing session is written only while it still exists: a request in flight never
        # revives a session that was ended meanwhile.
        if not client.set(key, payload, ex=self._lifetime_left(session, now), xx=not fresh):
            response.delete_cookie(name, domain=domain, path=path)
            return
        account_id = _account_of(session)
        if account_id is not None:
            pipe = client.pipeline()
            pipe.sadd(account_sessions_key(account_id), key)
            pipe.expire(account_sessions_key(account_id), ABSOLUTE_LIFETIME)
            pipe.execute()
        if not fresh:
            return
        assert session.created is not None  # noqa: S101 - set just above
        response.set_cookie(
            name,
            session.session_id,
            expires=datetime.fromtimestamp(session.created + ABSOLUTE_LIFETIME, UTC),
            httponly=self.get_cookie_httponly(app),
            domain=domain,
            path=path,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )


def _current() -> ServerSession:
    current = session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(current, ServerSession):
        raise TypeError("the app must use ServerSessionInterface")
    return current


def start_session(
    account_id: int, *, shop_id: int | None = None, member_id: int | None = None
) -> None:
    """Sign this browser in under a new session id; `shop_id` limits the session to that shop,
    `member_id` makes it a team member's (else the account owner's)."""
    from app.auth.csrf import rotate_csrf_token

    current = _current()
    current.clear()
    current.renew = True
    current["account_id"] = account_id
    if member_id is not None:
        current["member_id"] = member_id
    if shop_id is not None:
        current["shop_id"] = shop_id
        current["shop_scope"] = shop_id
    rotate_csrf_token()


def current_session_key() -> str | None:
    session_id = _current().session_id
    return session_key(session_id) if session_id else None


def end_account_sessions(client: redis.Redis, account_id: int, *, keep: str | None = None) -> int:
    """End every session of the account (but `keep`, a session key); how many were ended."""
    index = account_sessions_key(account_id)
    members: Any = client.smembers(index)
    ended = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
    ended = [key for key in ended if key != keep]
    pipe = client.pipeline()
    if ended:
        pipe.delete(*ended)
        pipe.srem(index, *ended)
    pipe.execute()
    from app.auth.login_link import revoke_login_links

    revoke_login_links(client, account_id)
    return len(ended)


def end_person_sessions(
    client: redis.Redis, account_id: int, member_id: int | None, *, keep: str | None = None
) -> int:
    """End the sessions of one person of the account: its owner (`member_id` None; shop-scoped
    sessions too) or one member; `keep` (a session key) stays. How many were ended."""
    index = account_sessions_key(account_id)
    members: Any = client.smembers(index)
    keys = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
    ended: list[str] = []
    for key in keys:
        if key == keep:
            continue
        raw: Any = client.get(key)
        if raw is None:
            ended.append(key)  # already gone: only the index entry is left
            continue
        try:
            data = session_json_serializer.loads(json.loads(raw)["data"])
        except (ValueError, KeyError, TypeError):
            ended.append(key)
            continue
        if data.get("member_id") == member_id:
            ended.append(key)
    pipe = client.pipeline()
    if ended:
        pipe.delete(*ended)
        pipe.srem(index, *ended)
    pipe.execute()
    if member_id is None:
        from app.auth.login_link import revoke_login_links

        revoke_login_links(client, account_id)
    return len(ended)
