"""Who may use the review page: one token per server, and a CSRF token on every form.

The token is generated with `secrets` (or taken from `SLATEBOARD_REVIEW_TOKEN`) and printed once at start. A request
carries it as `Authorization: Bearer TOKEN`, or once as `?token=TOKEN`: the gate then sets it as an HttpOnly,
SameSite=Strict cookie and redirects to the same address without the token, so it leaves no trace in the history or
a `Referer`. Anything else is refused with 401 before a route runs.

Forms carry a CSRF token derived from the server's token (HMAC), checked on every POST: a page on another origin can
neither read it nor (SameSite=Strict) send the cookie along.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import URL
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from slateboard.errors import ConfigurationError

__all__ = ("COOKIE", "TOKEN_ENV", "TokenGate", "csrf_token", "csrf_matches", "review_token", "SECURITY_HEADERS")

COOKIE = "slateboard_review"
TOKEN_ENV = "SLATEBOARD_REVIEW_TOKEN"  # noqa: S105 - the variable's name, not a secret
MIN_TOKEN = 16  # characters: a guessable token would make the gate decoration
# No script runs on these pages (they are plain forms), so the policy allows none: an injected <script> that escaped
# the templates' escaping would still not run.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def review_token(given: str | None = None) -> str:
    """The server's token: `given`, else `$SLATEBOARD_REVIEW_TOKEN`, else a fresh random one."""
    token = given or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)
    if len(token) < MIN_TOKEN:
        raise ConfigurationError(f"the review token must have at least {MIN_TOKEN} characters")
    return token


def csrf_token(token: str) -> str:
    """The CSRF token every form of a server with `token` carries (stable, so several tabs work)."""
    return hmac.new(token.encode(), b"slateboard-review-csrf", hashlib.sha256).hexdigest()


def csrf_matches(token: str, sent: object) -> bool:
    """Whether a form's `csrf` field is this server's CSRF token."""
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), csrf_token(token).encode())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class TokenGate:
    """ASGI middleware: lets a request through only with the server's token (header, cookie, or `?token=` once)."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = self._check(scope)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _check(self, scope: Scope) -> Response | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(bearer.strip(), self.token):
            return None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        sent = [value for name, value in query if name == "token"]
        if sent and _same(sent[-1], self.token):
            # Once: keep it as a cookie and drop it from the address.
            rest = urlencode([(name, value) for name, value in query if name != "token"])
            url = URL(scope=scope).replace(query=rest)
            redirect = RedirectResponse(url.path + (f"?{rest}" if rest else ""), status_code=303)
            redirect.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return redirect
        if _same(_cookie(headers.get("cookie", ""), COOKIE), self.token):
            return None
        return PlainTextResponse(
            "401: the review page needs its token (Authorization: Bearer TOKEN, or open the address printed at start)",
            status_code=401,
            headers={"www-authenticate": "Bearer", **SECURITY_HEADERS},
        )


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""
