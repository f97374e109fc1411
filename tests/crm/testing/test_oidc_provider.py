"""The local OpenID Connect provider (crm.testing.oidc_provider) driven by Authlib: the Flask
client the product will use for single sign-on, and Authlib's requests session for the
provider's own checks. The browser's part (following redirects) is a plain HTTP client."""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import Flask
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from crm.testing.oidc_provider import KEY_ID, FakeOidcProvider, generate_key

REDIRECT_URI = "http://localhost/auth/callback"


@pytest.fixture(scope="module")
def key():
    return generate_key()  # one RSA key for the module: generating takes a while


@pytest.fixture
def idp(key):
    with FakeOidcProvider(key=key) as provider:
        yield provider


def make_app(idp: FakeOidcProvider, **client_kwargs) -> Flask:
    """A small Flask app signing in through Authlib's Flask client, as the product will."""
    app = Flask(__name__)
    app.secret_key = "test-only"
    app.testing = True  # exceptions reach the test
    oauth = OAuth(app)
    oauth.register(
        "council",
        server_metadata_url=idp.discovery_url,
        client_id=idp.client_id,
        client_secret=idp.client_secret,
        client_kwargs={
            "scope": "openid email profile",
            "code_challenge_method": "S256",
            **client_kwargs,
        },
    )

    @app.get("/auth/login")
    def login():
        return oauth.council.authorize_redirect(REDIRECT_URI)

    @app.get("/auth/callback")
    def callback():
        token = oauth.council.authorize_access_token(**app.config.get("TOKEN_OPTIONS", {}))
        return {
            "id_token_claims": dict(token["userinfo"]),
            "userinfo": dict(oauth.council.userinfo(token=token)),
            "access_token": token["access_token"],
        }

    return app


def sign_in(app: Flask, *, tamper=None):
    """The browser's part: start at the app, follow the redirect to the provider with a plain
    HTTP client, come back to the app's callback with what the provider answered."""
    browser = app.test_client()
    start = browser.get("/auth/login")
    assert start.status_code == 302
    at_provider = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT_URI
    query = back.query if tamper is None else tamper(back.query)
    return browser.get(f"{back.path}?{query}")


def test_discovery_and_jwks(idp):
    metadata = requests.get(idp.discovery_url, timeout=5).json()
    assert metadata["issuer"] == idp.issuer
    assert metadata["authorization_endpoint"] == f"{idp.issuer}/authorize"
    assert metadata["jwks_uri"] == f"{idp.issuer}/jwks"
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    [public] = requests.get(metadata["jwks_uri"], timeout=5).json()["keys"]
    assert public["kid"] == KEY_ID and public["kty"] == "RSA" and public["alg"] == "RS256"
    assert "d" not in public and "p" not in public  # never the private parts


def test_sign_in_through_authlibs_flask_client(idp):
    app = make_app(idp)
    user = idp.next_user("Sam.Jones@council.gov.uk", name="Sam Jones")

    answer = sign_in(app)

    assert answer.status_code == 200
    claims = answer.json["id_token_claims"]  # validated by Authlib against the JWKS
    assert claims["email"] == "Sam.Jones@council.gov.uk" and claims["email_verified"] is True
    assert claims["sub"] == user.sub and claims["name"] == "Sam Jones"
    assert claims["iss"] == idp.issuer and claims["aud"] == idp.client_id
    assert claims["exp"] > claims["iat"]
    assert answer.json["userinfo"] == {
        "sub": user.sub,
        "email": "Sam.Jones@council.gov.uk",
        "email_verified": True,
        "name": "Sam Jones",
    }

    [authorization] = idp.authorizations()
    assert authorization.params["code_challenge_method"] == "S256"
    assert authorization.params["state"] and authorization.error is None
    assert claims["nonce"] == authorization.params["nonce"]
    [token_request] = idp.token_requests()
    assert token_request.auth_method == "client_secret_basic" and token_request.status == 200
    assert "client_secret" not in token_request.form  # never recorded
    [issued] = idp.issued_id_tokens()
    assert issued.header["kid"] == KEY_ID and issued.misbehaviour == ()
    assert [r.endpoint for r in idp.requests()] == [
        "discovery",
        "authorize",
        "token",
        "jwks",
        "userinfo",
    ]


def test_client_secret_post_and_a_stable_subject(idp):
    app = make_app(idp, token_endpoint_auth_method="client_secret_post")
    first = idp.next_user("sam@council.gov.uk")
    second = idp.next_user("SAM@council.gov.uk")
    assert first.sub == second.sub  # derived from the email, so repeat sign-ins match
    assert sign_in(app).status_code == 200
    assert sign_in(app).status_code == 200
    assert [t.auth_method for t in idp.token_requests()] == ["client_secret_post"] * 2


@pytest.mark.parametrize(
    ("kind", "error", "claim"),
    [
        ("wrong_audience", InvalidClaimError, "aud"),
        ("wrong_issuer", InvalidClaimError, "iss"),
        ("expired", ExpiredTokenError, None),
        ("bad_signature", BadSignatureError, None),
        ("unknown_key", InvalidKeyIdError, None),
        ("nonce_mismatch", InvalidClaimError, "nonce"),
        ("missing_nonce", MissingClaimError, "nonce"),
    ],
)
def test_each_misbehaviour_is_caught_by_authlibs_validation(idp, kind, error, claim):
    app = make_app(idp)
    # What the product should pass: the issuer and our client as the only audience.
    app.config["TOKEN_OPTIONS"] = {
        "claims_options": {
            "iss": {"essential": True, "values": [idp.issuer]},
            "aud": {"essential": True, "values": [idp.client_id]},
        }
    }
    idp.next_user("sam@council.gov.uk")
    idp.misbehave(kind)

    with pytest.raises(error) as caught:
        sign_in(app)

    if claim is not None:
        assert caught.value.claim == claim
    assert idp.issued_id_tokens()[0].misbehaviour == (kind,)
    # only the next token: the one after is good again
    idp.next_user("sam@council.gov.uk")
    assert sign_in(app).status_code == 200


def test_a_wrong_audience_is_caught_even_with_authlibs_defaults(idp):
    app = make_app(idp)
    idp.next_user("sam@council.gov.uk")
    idp.misbehave("wrong_audience")
    # Without an "aud" option Authlib still refuses: another audience needs an azp naming us.
    with pytest.raises(MissingClaimError) as caught:
        sign_in(app)
    assert caught.value.claim == "azp"


def test_an_unverified_email_is_passed_on_for_the_product_to_refuse(idp):
    app = make_app(idp)
    idp.next_user("sam@council.gov.uk", email_verified=False)
    answer = sign_in(app)
    # The token is valid; refusing an unverified email is the product's rule.
    assert answer.json["id_token_claims"]["email_verified"] is False
    assert answer.json["userinfo"]["email_verified"] is False
    idp.next_user("sam@council.gov.uk")
    idp.misbehave("unverified_email")
    assert sign_in(app).json["id_token_claims"]["email_verified"] is False


def test_misbehaviour_for_ever_and_combined(idp):
    idp.misbehave("expired", "nonce_mismatch", times=None)
    app = make_app(idp)
    for _ in range(2):
        idp.next_user("sam@council.gov.uk")
        with pytest.raises(ExpiredTokenError):
            sign_in(app)
    assert [t.misbehaviour for t in idp.issued_id_tokens()] == [("expired", "nonce_mismatch")] * 2
    with pytest.raises(ValueError, match="kinds must be among"):
        idp.misbehave("rude")


def test_refusals_at_the_authorization_endpoint_reach_the_client(idp):
    app = make_app(idp)
    idp.refuse_next("access_denied", "The user declined to sign in")
    with pytest.raises(OAuthError) as declined:
        sign_in(app)
    assert declined.value.error == "access_denied"
    assert declined.value.description == "The user declined to sign in"

    # nobody chosen with next_user: nobody is signed in at the provider
    with pytest.raises(OAuthError) as nobody:
        sign_in(app)
    assert nobody.value.error == "login_required"
    assert [a.error for a in idp.authorizations()] == ["access_denied", "login_required"]
    assert idp.token_requests() == []


def test_the_state_comes_back_and_a_forged_one_is_caught_by_the_client(idp):
    app = make_app(idp)
    idp.next_user("sam@council.gov.uk")

    def forge(query: str) -> str:
        params = parse_qs(query)
        return f"code={params['code'][0]}&state=forged"

    with pytest.raises(MismatchingStateError):
        sign_in(app, tamper=forge)
    [authorization] = idp.authorizations()
    assert parse_qs(urlsplit(authorization.redirect).query)["state"] == [
        authorization.params["state"]
    ]


# -- the provider's own checks, through Authlib's requests session -----------------------------


def session_for(idp: FakeOidcProvider, **kwargs) -> OAuth2Session:
    return OAuth2Session(
        idp.client_id,
        idp.client_secret,
        scope="openid email",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        **kwargs,
    )


def authorize(idp: FakeOidcProvider, session: OAuth2Session, verifier: str, **params):
    url, state = session.create_authorization_url(
        f"{idp.issuer}/authorize", code_verifier=verifier, nonce="n-0S6_WzA2Mj", **params
    )
    answer = requests.get(url, allow_redirects=False, timeout=5)
    return answer, state


def location_params(answer: requests.Response) -> dict[str, list[str]]:
    """The query of the redirect the provider answered."""
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def visit(url: str) -> dict[str, list[str]]:
    return location_params(requests.get(url, allow_redirects=False, timeout=5))


VERIFIER = "dBjftJeZ4CVP-mJ92K9-s3w0zVsCRGmQtm_NQ0ZmXz4-a-long-enough-verifier"


def test_code_exchange_validated_by_hand_with_the_jwks(idp):
    idp.next_user("sam@council.gov.uk")
    session = session_for(idp)
    answer, state = authorize(idp, session, VERIFIER)
    back = location_params(answer)
    assert back["state"] == [state]
    token = session.fetch_token(f"{idp.issuer}/token", code=back["code"][0], code_verifier=VERIFIER)
    assert token["token_type"] == "Bearer" and token["scope"] == "openid email"

    keys = KeySet.import_key_set(requests.get(f"{idp.issuer}/jwks", timeout=5).json())
    decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"values": [idp.issuer]}, "aud": {"values": [idp.client_id]}},
        {
            "nonce": "n-0S6_WzA2Mj",
            "client_id": idp.client_id,
            "access_token": token["access_token"],
        },
    )
    claims.validate()  # at_hash checked too
    assert claims["email"] == "sam@council.gov.uk"
    digest = hashlib.sha256(VERIFIER.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert idp.authorizations()[0].params["code_challenge"] == challenge


def test_pkce_is_required_and_checked(idp):
    idp.next_user("sam@council.gov.uk")
    session = session_for(idp)
    answer, _state = authorize(idp, session, VERIFIER)
    code = location_params(answer)["code"][0]
    with pytest.raises(OAuthError) as wrong:
        session.fetch_token(f"{idp.issuer}/token", code=code, code_verifier=VERIFIER + "x")
    assert wrong.value.error == "invalid_grant"
    assert idp.token_requests()[-1].error == "invalid_grant"

    idp.next_user("sam@council.gov.uk")
    without = OAuth2Session(
        idp.client_id, idp.client_secret, scope="openid", redirect_uri=REDIRECT_URI
    )
    url, _state = without.create_authorization_url(f"{idp.issuer}/authorize", nonce="n")
    refused = requests.get(url, allow_redirects=False, timeout=5)
    back = location_params(refused)
    assert back["error"] == ["invalid_request"] and "PKCE" in back["error_description"][0]

    plain_url = url + "&code_challenge=abc&code_challenge_method=plain"
    back = visit(plain_url)
    assert back["error_description"] == ["code_challenge_method must be S256"]


def test_a_code_is_used_once_and_a_replay_revokes_its_tokens(idp):
    idp.next_user("sam@council.gov.uk")
    session = session_for(idp)
    answer, _state = authorize(idp, session, VERIFIER)
    code = location_params(answer)["code"][0]
    token = session.fetch_token(f"{idp.issuer}/token", code=code, code_verifier=VERIFIER)
    userinfo = f"{idp.issuer}/userinfo"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(userinfo, headers=bearer, timeout=5).status_code == 200

    with pytest.raises(OAuthError) as replay:
        session_for(idp).fetch_token(f"{idp.issuer}/token", code=code, code_verifier=VERIFIER)
    assert replay.value.error == "invalid_grant"
    revoked = requests.get(userinfo, headers=bearer, timeout=5)
    assert revoked.status_code == 401 and "invalid_token" in revoked.headers["WWW-Authenticate"]


def test_expired_codes_and_a_different_redirect_uri_are_refused(idp):
    session = session_for(idp)
    idp.next_user("sam@council.gov.uk")
    answer, _state = authorize(idp, session, VERIFIER)
    code = location_params(answer)["code"][0]
    idp.expire_codes()
    with pytest.raises(OAuthError, match="expired"):
        session.fetch_token(f"{idp.issuer}/token", code=code, code_verifier=VERIFIER)

    idp.next_user("sam@council.gov.uk")
    answer, _state = authorize(idp, session, VERIFIER)
    code = location_params(answer)["code"][0]
    elsewhere = session_for(idp)
    elsewhere.redirect_uri = "http://localhost/somewhere-else"
    with pytest.raises(OAuthError, match="redirect_uri"):
        elsewhere.fetch_token(f"{idp.issuer}/token", code=code, code_verifier=VERIFIER)


def test_client_authentication(key):
    with FakeOidcProvider(key=key, token_auth_methods=("client_secret_post",)) as idp:
        idp.next_user("sam@council.gov.uk")
        session = session_for(idp)  # client_secret_basic, which this provider does not allow
        answer, _state = authorize(idp, session, VERIFIER)
        code = location_params(answer)["code"][0]
        with pytest.raises(OAuthError) as basic:
            session.fetch_token(f"{idp.issuer}/token", code=code, code_verifier=VERIFIER)
        assert basic.value.error == "invalid_client"

        idp.next_user("sam@council.gov.uk")
        wrong = OAuth2Session(
            idp.client_id,
            "not-the-secret",
            scope="openid",
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
        )
        answer, _state = authorize(idp, wrong, VERIFIER)
        code = location_params(answer)["code"][0]
        with pytest.raises(OAuthError) as bad_secret:
            wrong.fetch_token(f"{idp.issuer}/token", code=code, code_verifier=VERIFIER)
        assert bad_secret.value.error == "invalid_client"
        assert [t.status for t in idp.token_requests()] == [401, 401]


def test_unknown_clients_and_redirect_uris_are_never_redirected_to(key):
    with FakeOidcProvider(key=key, redirect_uris=[REDIRECT_URI]) as idp:
        idp.next_user("sam@council.gov.uk")
        elsewhere = session_for(idp)
        elsewhere.redirect_uri = "https://attacker.example/steal"
        answer, _state = authorize(idp, elsewhere, VERIFIER)
        assert answer.status_code == 400 and "Location" not in answer.headers
        assert answer.json()["error"] == "invalid_request"

        stranger = OAuth2Session(
            "someone-else",
            "x",
            scope="openid",
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
        )
        answer, _state = authorize(idp, stranger, VERIFIER)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_client"
        assert all(a.redirect is None for a in idp.authorizations())
        # the chosen user is still waiting: nobody signed in
        answer, _state = authorize(idp, session_for(idp), VERIFIER)
        assert "code" in location_params(answer)


def test_nonce_and_state_are_required(idp):
    idp.next_user("sam@council.gov.uk")
    url = (
        f"{idp.issuer}/authorize?response_type=code&client_id={idp.client_id}"
        f"&redirect_uri={REDIRECT_URI}&scope=openid&state=s1&code_challenge=abc"
        "&code_challenge_method=S256"
    )
    back = visit(url)
    assert back == {
        "error": ["invalid_request"],
        "error_description": ["nonce is required"],
        "state": ["s1"],
    }
    without_state = url.replace("&state=s1", "") + "&nonce=n1"
    back = visit(without_state)
    assert back["error_description"] == ["state is required"] and "state" not in back


def test_scripted_endpoint_failures(idp):
    idp.fail("discovery", status=503, error="temporarily_unavailable")
    assert requests.get(idp.discovery_url, timeout=5).status_code == 503
    assert requests.get(idp.discovery_url, timeout=5).status_code == 200  # next call only

    app = make_app(idp)
    idp.fail("token", status=400, error="invalid_grant", description="The code is no good")
    idp.next_user("sam@council.gov.uk")
    with pytest.raises(OAuthError) as refused:
        sign_in(app)
    assert (refused.value.error, refused.value.description) == (
        "invalid_grant",
        "The code is no good",
    )
    # A 500 is not an OAuth answer: Authlib lets requests raise it.
    idp.fail("token", status=500, error="server_error")
    idp.next_user("sam@council.gov.uk")
    with pytest.raises(requests.HTTPError) as failed:
        sign_in(app)
    assert failed.value.response.status_code == 500
    assert failed.value.response.json() == {"error": "server_error"}
    assert idp.wait_for(lambda: len(idp.requests("token")) == 2, timeout=1)
    with pytest.raises(ValueError, match="endpoint must be"):
        idp.fail("logout")
