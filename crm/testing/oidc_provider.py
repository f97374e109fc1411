"""A minimal local OpenID Connect provider for sign-in tests (the council's identity provider).

Authlib's clients (the Flask client the product will use, or `OAuth2Session`) pointed at its
discovery document work unchanged::

    from crm.testing.oidc_provider import FakeOidcProvider

    with FakeOidcProvider() as idp:
        oauth.register(
            "council",
            server_metadata_url=idp.discovery_url,
            client_id=idp.client_id,
            client_secret=idp.client_secret,
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )
        idp.next_user(email="sam.jones@council.gov.uk", email_verified=True, name="Sam Jones")
        # GET the authorization URL with any HTTP client: it answers 302 to
        # redirect_uri?code=...&state=... at once (no page), signing in the user chosen above
        idp.refuse_next("access_denied", "The user declined")   # or: redirect back with an error
        idp.misbehave("wrong_audience")      # the next ID token is for another client

It is a threaded HTTP server on 127.0.0.1 and an ephemeral port; the issuer is its base URL.
An RSA key (2048 bits, kid "fostercrm-test-1") is generated when the provider is made (pass
`key=` to reuse one: generating takes a little time). Signing uses joserfc, the JOSE library
Authlib itself now uses (authlib.jose is deprecated).

Endpoints:

- GET /.well-known/openid-configuration: issuer, endpoints, `code` only, RS256, S256, the token
  endpoint's client authentication methods.
- GET /jwks: the public key.
- GET or POST /authorize: the authorization code flow. It checks `response_type=code`, the
  client, the redirect URI (exactly one of `redirect_uris` when given), `scope` with openid,
  `state`, `nonce` and a PKCE `code_challenge` with method S256 (each required unless turned
  off). An unknown client or redirect URI answers 400 JSON (never redirects to an unchecked
  address, as the spec says); anything else wrong redirects back with `error` and `state`.
  With no user chosen by `next_user` it redirects back with `error=login_required`.
- POST /token: `grant_type=authorization_code` with client_secret_basic or client_secret_post
  (the ones in `token_auth_methods`); the code is single use (a replay is `invalid_grant` and
  revokes the tokens it gave) and lives `code_lifetime` seconds; `redirect_uri` must match and
  `code_verifier` must hash to the challenge. Answers access_token, token_type Bearer,
  expires_in, scope and an ID token signed RS256 with iss, sub, aud, exp, iat, auth_time,
  nonce, at_hash, email, email_verified, name (and any `claims` given to `next_user`).
- GET or POST /userinfo with `Authorization: Bearer <access token>`: sub, email,
  email_verified, name.

Scripted misbehaviour of the next N ID tokens (`misbehave(kind, ..., times=1)`), for negative
tests: "unverified_email", "wrong_audience", "wrong_issuer", "expired", "bad_signature",
"unknown_key", "nonce_mismatch", "missing_nonce". Authlib's own validation detects all but the
first (an unverified email is the product's rule to enforce; see the tests for which error
each one raises). Other failures: `refuse_next(error, description)` at the authorization
endpoint, `fail(endpoint, status=..., error=...)` for discovery, jwks, token and userinfo.

Everything recorded (requests, authorizations, token requests, issued ID tokens) is guarded by
one lock; the accessors return copies. `wait_for(predicate, timeout)` blocks on a condition
variable, woken by every request, until the predicate holds or the deadline passes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

KEY_ID = "fostercrm-test-1"
MISBEHAVIOURS = (
    "unverified_email",
    "wrong_audience",
    "wrong_issuer",
    "expired",
    "bad_signature",
    "unknown_key",
    "nonce_mismatch",
    "missing_nonce",
)
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
ENDPOINTS = ("discovery", "jwks", "authorize", "token", "userinfo")
ID_TOKEN_LIFETIME = 300
ACCESS_TOKEN_LIFETIME = 3600


def generate_key() -> RSAKey:
    """A fresh signing key, to share between providers when a test makes several."""
    return RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"})


@dataclass(frozen=True)
class User:
    """Who signs in at the identity provider next."""

    email: str
    email_verified: bool
    sub: str
    name: str | None
    claims: dict[str, Any]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    endpoint: str | None
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    status: int
    at: float


@dataclass(frozen=True)
class Authorization:
    """One request to the authorization endpoint and what it answered."""

    params: dict[str, str]
    user: User | None
    code: str | None  # given on success
    error: str | None  # sent back instead
    redirect: str | None  # the Location answered (None when it answered 400 itself)


@dataclass(frozen=True)
class TokenRequest:
    form: dict[str, str]  # without the client secret
    auth_method: str | None  # how the client authenticated, when it did
    client_id: str | None
    status: int
    error: str | None


@dataclass(frozen=True)
class IssuedIdToken:
    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]
    misbehaviour: tuple[str, ...]


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    user: User
    nonce: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    issued: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)


@dataclass
class _AccessToken:
    token: str
    user: User
    client_id: str
    scope: str
    expires: float
    revoked: bool = False


@dataclass
class _Failure:
    endpoint: str
    status: int
    error: str
    description: str | None
    times: int | None
    used: int = 0


@dataclass
class _Misbehaviour:
    kinds: tuple[str, ...]
    times: int | None
    used: int = 0


@dataclass
class _State:
    requests: list[Request] = field(default_factory=list)
    authorizations: list[Authorization] = field(default_factory=list)
    token_requests: list[TokenRequest] = field(default_factory=list)
    id_tokens: list[IssuedIdToken] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    misbehaviours: list[_Misbehaviour] = field(default_factory=list)
    codes: dict[str, _Code] = field(default_factory=dict)
    access_tokens: dict[str, _AccessToken] = field(default_factory=dict)


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        super().__init__(description or error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


@dataclass
class _Answer:
    status: int
    body: dict[str, Any] | None = None
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeOidcProvider:
    """Start with `start()` or `with FakeOidcProvider() as idp:`; stop with `stop()`."""

    def __init__(
        self,
        *,
        client_id: str = "fostercrm-test",
        client_secret: str | None = None,
        redirect_uris: list[str] | None = None,
        token_auth_methods: tuple[str, ...] = AUTH_METHODS,
        require_pkce: bool = True,
        require_nonce: bool = True,
        require_state: bool = True,
        code_lifetime: float = 60.0,
        key: RSAKey | None = None,
    ) -> None:
        """`redirect_uris=None` accepts any http(s) redirect URI (the token request must still
        repeat the one used)."""
        unknown = set(token_auth_methods) - set(AUTH_METHODS)
        if unknown:
            raise ValueError(f"token_auth_methods must be among {AUTH_METHODS}")
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.redirect_uris = list(redirect_uris) if redirect_uris is not None else None
        self.token_auth_methods = tuple(token_auth_methods)
        self.require_pkce = require_pkce
        self.require_nonce = require_nonce
        self.require_state = require_state
        self.code_lifetime = code_lifetime
        self.key = key or generate_key()
        self._state = _State()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> FakeOidcProvider:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        # A short poll: stop() waits for the serving loop to notice, one poll at most.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-oidc",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOidcProvider:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake OpenID Connect provider is not running")
        return self._httpd.server_address[1]

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        """For Authlib's `server_metadata_url`."""
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def metadata(self) -> dict[str, Any]:
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": list(self.token_auth_methods),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "email",
                "email_verified",
                "name",
            ],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    # -- scripting ----------------------------------------------------------------------------

    def next_user(
        self,
        email: str,
        *,
        email_verified: bool = True,
        sub: str | None = None,
        name: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> User:
        """The person who signs in at the next authorization request (queued: call it once per
        sign-in). `sub` defaults to a stable id derived from the email."""
        user = User(
            email=email,
            email_verified=email_verified,
            sub=sub or str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{email.lower()}")),
            name=name,
            claims=dict(claims or {}),
        )
        with self._lock:
            self._state.users.append(user)
        return user

    def refuse_next(self, error: str = "access_denied", description: str | None = None) -> None:
        """The next authorization request is redirected back with this error (the user
        declined, their account is disabled, conditional access refused, ...)."""
        self.fail("authorize", error=error, description=description)

    def fail(
        self,
        endpoint: str,
        *,
        status: int = 400,
        error: str = "server_error",
        description: str | None = None,
        times: int | None = 1,
    ) -> None:
        """The next `times` calls (None: all) to `endpoint` fail with an OAuth error: a
        redirect back for "authorize", a JSON error with `status` for the others."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}")
        with self._lock:
            self._state.failures.append(_Failure(endpoint, status, error, description, times))

    def misbehave(self, *kinds: str, times: int | None = 1) -> None:
        """The next `times` ID tokens (None: all) are wrong in these ways."""
        wrong = [k for k in kinds if k not in MISBEHAVIOURS]
        if not kinds or wrong:
            raise ValueError(f"kinds must be among {MISBEHAVIOURS}")
        with self._lock:
            self._state.misbehaviours.append(_Misbehaviour(tuple(kinds), times))

    def expire_codes(self) -> None:
        """Every authorization code given so far is too old from now on."""
        with self._lock:
            for code in self._state.codes.values():
                code.issued -= self.code_lifetime + 1

    def reset(self) -> None:
        with self._lock:
            self._state = _State()

    # -- what the client did ------------------------------------------------------------------

    def requests(self, endpoint: str | None = None) -> list[Request]:
        with self._lock:
            found = [r for r in self._state.requests if endpoint in (None, r.endpoint)]
        return copy.deepcopy(found)

    def authorizations(self) -> list[Authorization]:
        with self._lock:
            return copy.deepcopy(self._state.authorizations)

    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return copy.deepcopy(self._state.token_requests)

    def issued_id_tokens(self) -> list[IssuedIdToken]:
        with self._lock:
            return copy.deepcopy(self._state.id_tokens)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate()` is true (re-checked after every request) or `timeout`
        seconds pass; returns whether it became true."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                self._lock.release()
                try:
                    if predicate():
                        return True
                finally:
                    self._lock.acquire()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))

    # -- the endpoints ------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        form: dict[str, str],
        headers: dict[str, str],
    ) -> _Answer:
        endpoint = {
            "/.well-known/openid-configuration": "discovery",
            "/jwks": "jwks",
            "/authorize": "authorize",
            "/token": "token",
            "/userinfo": "userinfo",
        }.get(path.rstrip("/") or "/")
        with self._changed:
            try:
                answer = self._dispatch(endpoint, method, query, form, headers)
            except _OAuthError as exc:
                answer = _Answer(exc.status, exc.body())
                if exc.status == 401:
                    scheme = "Bearer" if endpoint == "userinfo" else "Basic"
                    answer.headers["WWW-Authenticate"] = f'{scheme} error="{exc.error}"'
            safe_form = {k: v for k, v in form.items() if k != "client_secret"}
            self._state.requests.append(
                Request(
                    method,
                    path,
                    endpoint,
                    dict(query),
                    safe_form,
                    dict(headers),
                    answer.status,
                    time.monotonic(),
                )
            )
            self._changed.notify_all()
        return answer

    def _failure(self, endpoint: str) -> _Failure | None:
        for rule in self._state.failures:
            if rule.endpoint == endpoint and (rule.times is None or rule.used < rule.times):
                rule.used += 1
                return rule
        return None

    def _dispatch(self, endpoint, method, query, form, headers) -> _Answer:
        if endpoint is None:
            raise _OAuthError(404, "not_found")
        if endpoint == "authorize":
            return self._authorize({**query, **form} if method == "POST" else query)
        failure = self._failure(endpoint)
        if failure is not None:
            raise _OAuthError(failure.status, failure.error, failure.description)
        if endpoint == "discovery":
            return _Answer(200, self.metadata)
        if endpoint == "jwks":
            return _Answer(200, self.jwks())
        if endpoint == "token":
            if method != "POST":
                raise _OAuthError(405, "invalid_request", "The token endpoint takes POST")
            return self._token(form, headers)
        return self._userinfo(headers)

    def _authorize(self, params: dict[str, str]) -> _Answer:
        client_id = params.get("client_id")
        redirect_uri = params.get("redirect_uri", "")
        # Errors about the client or where to send the answer are shown, never redirected.
        if client_id != self.client_id:
            return self._refuse_here(params, "invalid_client", "Unknown client_id")
        if not _redirect_allowed(redirect_uri, self.redirect_uris):
            return self._refuse_here(
                params, "invalid_request", "redirect_uri is not registered for this client"
            )
        state = params.get("state")
        failure = self._failure("authorize")
        error: tuple[str, str | None] | None = None
        if failure is not None:
            error = (failure.error, failure.description)
        elif params.get("response_type") != "code":
            error = ("unsupported_response_type", "Only response_type=code is supported")
        elif "openid" not in params.get("scope", "").split():
            error = ("invalid_scope", "The scope must include openid")
        elif self.require_state and not state:
            error = ("invalid_request", "state is required")
        elif self.require_nonce and not params.get("nonce"):
            error = ("invalid_request", "nonce is required")
        elif self.require_pkce and not params.get("code_challenge"):
            error = ("invalid_request", "code_challenge is required (PKCE)")
        elif params.get("code_challenge") and params.get("code_challenge_method") != "S256":
            error = ("invalid_request", "code_challenge_method must be S256")
        elif not self._state.users:
            error = ("login_required", "No user is signed in at the identity provider")
        if error is not None:
            answer = {"error": error[0], **({"error_description": error[1]} if error[1] else {})}
            location = _with_query(redirect_uri, {**answer, **({"state": state} if state else {})})
            self._state.authorizations.append(
                Authorization(dict(params), None, None, error[0], location)
            )
            return _Answer(302, location=location)
        user = self._state.users.pop(0)
        code = _Code(
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            user=user,
            nonce=params.get("nonce"),
            scope=params.get("scope", ""),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            issued=time.monotonic(),
        )
        self._state.codes[code.code] = code
        location = _with_query(
            redirect_uri, {"code": code.code, **({"state": state} if state else {})}
        )
        self._state.authorizations.append(
            Authorization(dict(params), user, code.code, None, location)
        )
        return _Answer(302, location=location)

    def _refuse_here(self, params: dict[str, str], error: str, description: str) -> _Answer:
        self._state.authorizations.append(Authorization(dict(params), None, None, error, None))
        return _Answer(400, {"error": error, "error_description": description})

    def _client_auth(self, form: dict[str, str], headers: dict[str, str]) -> tuple[str, str]:
        """(client_id, method) of an authenticated client, or an invalid_client error."""
        header = headers.get("authorization", "")
        posted = "client_secret" in form
        if header.lower().startswith("basic "):
            if posted:
                raise _OAuthError(400, "invalid_request", "Use one client authentication method")
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
                given_id, given_secret = decoded.split(":", 1)
            except ValueError:
                raise _OAuthError(401, "invalid_client", "Malformed Basic credentials") from None
            method = "client_secret_basic"
        elif posted:
            given_id, given_secret = form.get("client_id", ""), form["client_secret"]
            method = "client_secret_post"
        else:
            raise _OAuthError(401, "invalid_client", "Client authentication is required")
        if method not in self.token_auth_methods:
            raise _OAuthError(401, "invalid_client", f"{method} is not allowed for this client")
        ids = {given_id, unquote(given_id)}
        secrets_given = {given_secret, unquote(given_secret)}
        if self.client_id not in ids or not any(
            hmac.compare_digest(s.encode(), self.client_secret.encode()) for s in secrets_given
        ):
            raise _OAuthError(401, "invalid_client", "Client authentication failed")
        return self.client_id, method

    def _token(self, form: dict[str, str], headers: dict[str, str]) -> _Answer:
        safe_form = {k: v for k, v in form.items() if k != "client_secret"}
        client_id: str | None = None
        method: str | None = None
        try:
            client_id, method = self._client_auth(form, headers)
            answer = self._exchange(form, client_id)
        except _OAuthError as exc:
            self._state.token_requests.append(
                TokenRequest(safe_form, method, client_id, exc.status, exc.error)
            )
            raise
        self._state.token_requests.append(TokenRequest(safe_form, method, client_id, 200, None))
        return answer

    def _exchange(self, form: dict[str, str], client_id: str) -> _Answer:
        if form.get("grant_type") != "authorization_code":
            raise _OAuthError(400, "unsupported_grant_type")
        code = self._state.codes.get(form.get("code", ""))
        if code is None or code.client_id != client_id:
            raise _OAuthError(400, "invalid_grant", "Unknown authorization code")
        if code.used:
            # A replayed code: refuse, and take back what it gave (RFC 6749 section 4.1.2).
            for token in code.access_tokens:
                self._state.access_tokens[token].revoked = True
            raise _OAuthError(400, "invalid_grant", "The authorization code was used already")
        code.used = True
        if time.monotonic() - code.issued > self.code_lifetime:
            raise _OAuthError(400, "invalid_grant", "The authorization code has expired")
        if form.get("redirect_uri", "") != code.redirect_uri:
            raise _OAuthError(400, "invalid_grant", "redirect_uri does not match")
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(_s256(verifier), code.code_challenge):
                raise _OAuthError(400, "invalid_grant", "PKCE verification failed")
        elif form.get("code_verifier"):
            raise _OAuthError(400, "invalid_grant", "No code_challenge was sent for this code")
        access = _AccessToken(
            token=secrets.token_urlsafe(32),
            user=code.user,
            client_id=client_id,
            scope=code.scope,
            expires=time.monotonic() + ACCESS_TOKEN_LIFETIME,
        )
        self._state.access_tokens[access.token] = access
        code.access_tokens.append(access.token)
        id_token = self._id_token(code, access.token)
        body = {
            "access_token": access.token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": code.scope,
            "id_token": id_token,
        }
        return _Answer(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _next_misbehaviour(self) -> tuple[str, ...]:
        for rule in self._state.misbehaviours:
            if rule.times is None or rule.used < rule.times:
                rule.used += 1
                return rule.kinds
        return ()

    def _id_token(self, code: _Code, access_token: str) -> str:
        kinds = self._next_misbehaviour()
        now = int(time.time())
        user = code.user
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user.sub,
            "aud": self.client_id,
            "exp": now + ID_TOKEN_LIFETIME,
            "iat": now,
            "auth_time": now,
            "at_hash": _at_hash(access_token),
            "email": user.email,
            "email_verified": user.email_verified,
        }
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        if user.name:
            claims["name"] = user.name
        claims.update(user.claims)
        header = {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
        if "unverified_email" in kinds:
            claims["email_verified"] = False
        if "wrong_audience" in kinds:
            claims["aud"] = "some-other-client"
        if "wrong_issuer" in kinds:
            claims["iss"] = f"{self.issuer}/another-tenant"
        if "expired" in kinds:
            claims.update(iat=now - 7200, auth_time=now - 7200, exp=now - 3600)
        if "nonce_mismatch" in kinds:
            claims["nonce"] = secrets.token_urlsafe(16)
        if "missing_nonce" in kinds:
            claims.pop("nonce", None)
        if "unknown_key" in kinds:
            header["kid"] = "a-key-nobody-published"
        raw = jwt.encode(header, claims, self.key)
        if "bad_signature" in kinds:
            raw = _break_signature(raw)
        self._state.id_tokens.append(IssuedIdToken(raw, header, dict(claims), kinds))
        return raw

    def _userinfo(self, headers: dict[str, str]) -> _Answer:
        header = headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise _OAuthError(401, "invalid_token", "A bearer token is required")
        access = self._state.access_tokens.get(header[7:].strip())
        if access is None or access.revoked or access.expires < time.monotonic():
            raise _OAuthError(401, "invalid_token", "The access token is not valid")
        user = access.user
        body: dict[str, Any] = {
            "sub": user.sub,
            "email": user.email,
            "email_verified": user.email_verified,
        }
        if user.name:
            body["name"] = user.name
        body.update(user.claims)
        return _Answer(200, body)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def _break_signature(raw: str) -> str:
    """The same token with one byte of its signature changed."""
    head, payload, signature = raw.split(".")
    padded = signature + "=" * (-len(signature) % 4)
    sig = bytearray(base64.urlsafe_b64decode(padded))
    sig[len(sig) // 2] ^= 0x01
    return ".".join([head, payload, base64.urlsafe_b64encode(bytes(sig)).rstrip(b"=").decode()])


def _redirect_allowed(uri: str, registered: list[str] | None) -> bool:
    if registered is not None:
        return uri in registered
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOidcProvider
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def log_message(self, *_args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        form: dict[str, str] = {}
        if raw and self.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.fake.handle(self.command, parts.path, query, form, headers)
        data = json.dumps(answer.body).encode() if answer.body is not None else b""
        self.send_response(answer.status)
        if answer.location is not None:
            self.send_header("Location", answer.location)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


__all__ = [
    "AUTH_METHODS",
    "KEY_ID",
    "MISBEHAVIOURS",
    "Authorization",
    "FakeOidcProvider",
    "IssuedIdToken",
    "Request",
    "TokenRequest",
    "User",
    "generate_key",
]
