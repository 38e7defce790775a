# tests/examples/test_example_oauth_webapp.py
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, session, url_for


def make_app(mockauth_url):
    """A server-side web app that signs its users in with Authlib, as in production."""
    app = Flask(__name__)
    app.secret_key = "a-flask-session-key"
    oauth = OAuth(app)
    oauth.register(
        "idp",
        client_id="demo-client",
        client_secret="demo-secret",
        server_metadata_url=mockauth_url + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
    )

    @app.route("/login")
    def login():
        return oauth.idp.authorize_redirect(url_for("callback", _external=True))

    @app.route("/callback")
    def callback():
        try:
            token = oauth.idp.authorize_access_token()  # the code for tokens; the ID token verified
        except OAuthError as error:
            return {"error": error.error}, 502
        session["user"] = token["userinfo"]["sub"]
        return {"user": token["userinfo"]["sub"], "email": token["userinfo"]["email"]}

    return app


def test_sign_in(mockauth, mockauth_url):
    browser = make_app(mockauth_url).test_client()
    login = browser.get("/login")  # 302 to the mock's login page
    callback = mockauth.authorize_url(login.headers["Location"], user="admin")  # as if clicked
    assert browser.get(callback).json == {"user": "admin", "email": "admin@example.com"}


def test_a_code_used_too_late(mockauth, mockauth_url):
    browser = make_app(mockauth_url).test_client()
    callback = mockauth.authorize_url(browser.get("/login").headers["Location"], user="admin")
    mockauth.clock.advance(seconds=61)  # codes live 60 s on the mock's clock
    answer = browser.get(callback)
    assert (answer.status_code, answer.json) == (502, {"error": "invalid_grant"})
