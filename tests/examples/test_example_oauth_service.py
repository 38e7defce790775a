# tests/examples/test_example_oauth_service.py
import requests
from authlib.integrations.requests_client import OAuth2Session


def service_token(mockauth_url):
    """What a service does before it calls another: the client_credentials grant."""
    config = requests.get(mockauth_url + "/.well-known/openid-configuration", timeout=5).json()
    client = OAuth2Session("demo-client", "demo-secret", scope="api:read")
    return client.fetch_token(config["token_endpoint"], grant_type="client_credentials")


def introspect(mockauth_url, token):
    """What the service called does with the token: ask the server whether it is active."""
    answer = requests.post(
        mockauth_url + "/oauth/introspect",
        data={"token": token["access_token"]},
        auth=("demo-client", "demo-secret"),
        timeout=5,
    )
    return answer.json()


def test_client_credentials(mockauth_url):
    token = service_token(mockauth_url)
    assert token["token_type"] == "Bearer" and token["scope"] == "api:read"
    introspected = introspect(mockauth_url, token)
    assert introspected["active"] and introspected["sub"] == "demo-client"


def test_the_service_token_expires(mockauth, mockauth_url):
    token = service_token(mockauth_url)
    mockauth.clock.advance(seconds=token["expires_in"] + 1)
    assert introspect(mockauth_url, token) == {"active": False}
