# tests/examples/test_example_rs256.py
import jwt
import pytest


# In a conftest.py this changes every test below it; here, the tests of this module.
@pytest.fixture(scope="session")
def mockauth_settings():
    return {"algorithm": "RS256", "issuer": "https://auth.example.test"}


def test_tokens_verify_against_jwks(mockauth_httpx, mockauth_token):
    token = mockauth_token("admin")
    keys = mockauth_httpx.get("/.well-known/jwks.json").json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="mockauth")
    assert (claims["sub"], claims["iss"]) == ("admin", "https://auth.example.test")
