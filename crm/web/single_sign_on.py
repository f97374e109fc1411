"""Single sign-on with the council's identity provider (OpenID Connect, through Authlib's Flask
client): the authorization code flow with PKCE, state and nonce; Authlib checks the ID token's
signature against the provider's keys, its issuer, audience, expiry and nonce. Who it signs in
is crm.services.auth.staff_for_identity's rule. The provider's own multi-factor rules apply,
so our one-time code is not asked for on top.

On while `single_sign_on.discovery_url` is set (with the client id, and the secret from
FOSTERCRM_SINGLE_SIGN_ON_CLIENT_SECRET).
"""

from __future__ import annotations

import logging
import threading

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from joserfc.errors import JoseError

from crm.models import SignInMethod
from crm.services import auth as auth_service
from crm.services import sessions as sessions_service
from crm.web import db, state
from crm.web.auth import SESSION_TOKEN_KEY, _safe_next

bp = Blueprint("single_sign_on", __name__)
log = logging.getLogger(__name__)

_EXTENSION = "fostercrm.single_sign_on"
_NEXT_KEY = "sso_next"
_lock = threading.Lock()
# The words when the provider (or the way back from it) fails: never its technical detail.
PROVIDER_TROUBLE = (
    "Signing in with {provider} did not work. Try again, or ask your IT service desk if it "
    "keeps happening"
)


def _client():  # noqa: ANN202
    """Authlib's client for the provider, made on first use for this app."""
    settings = state().settings
    if not settings.single_sign_on.enabled:
        abort(404)
    extensions = current_app.extensions
    found = extensions.get(_EXTENSION)
    if found is None:
        with _lock:
            found = extensions.get(_EXTENSION)
            if found is None:
                oauth = OAuth(current_app)
                found = extensions[_EXTENSION] = oauth.register(
                    "council",
                    server_metadata_url=settings.single_sign_on.discovery_url,
                    client_id=settings.single_sign_on.client_id,
                    client_secret=settings.single_sign_on_client_secret,
                    client_kwargs={
                        "scope": "openid email profile",
                        "code_challenge_method": "S256",
                        "timeout": 10,
                    },
                )
    return found


def _return_address() -> str:
    # The address the provider sends people back to must be the one registered with it: the
    # public address, not whatever Host header this request came with.
    base = state().settings.service.public_base_url.rstrip("/")
    return base + url_for("single_sign_on.came_back")


def _refused(message: str, status: int = 403):  # noqa: ANN202
    return render_template("auth/single_sign_on_refused.html", message=message), status


@bp.get("/sign-in/single-sign-on")
def start():
    client = _client()
    next_url = _safe_next(request.args.get("next"))
    try:
        response = client.authorize_redirect(_return_address())
    except (OAuthError, OSError, ValueError) as exc:
        log.warning("single sign-on: the provider could not be reached (%s)", type(exc).__name__)
        return _refused(_trouble(), 502)
    session[_NEXT_KEY] = next_url
    return response


def _trouble() -> str:
    return PROVIDER_TROUBLE.format(provider=state().settings.single_sign_on.provider_name)


@bp.get("/sign-in/single-sign-on/return")
def came_back():
    client = _client()
    settings = state().settings
    try:
        metadata = client.load_server_metadata()
        token = client.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "values": [metadata["issuer"]]},
                "aud": {"essential": True, "values": [settings.single_sign_on.client_id]},
            }
        )
    except (OAuthError, JoseError, OSError, ValueError, KeyError) as exc:
        # A refusal at the provider, a forged or replayed return, a token that fails its checks.
        log.warning("single sign-on refused: %s", type(exc).__name__)
        return _refused(_trouble())
    claims = dict(token.get("userinfo") or {})
    result = auth_service.staff_for_identity(db(), claims)
    if not result.ok:
        return _refused(result.message)
    next_url = session.get(_NEXT_KEY) or url_for("home.index")
    started = sessions_service.start_session(db(), result.user, method=SignInMethod.SINGLE_SIGN_ON)
    session.clear()
    session.permanent = True
    session[SESSION_TOKEN_KEY] = started.token
    return redirect(_safe_next(next_url))
