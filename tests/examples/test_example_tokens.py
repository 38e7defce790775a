# tests/examples/test_example_tokens.py
import pytest


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [("valid", 200, None), ("expired", 401, "token_expired"), ("tampered", 401, "invalid_token")],
)
@pytest.mark.parametrize("user", ["user@example.com", "admin"])
def test_me_checks_tokens(mockauth_httpx, mockauth_token, user, kind, status, error):
    token = mockauth_token(user, expired=kind == "expired", tampered=kind == "tampered")
    me = mockauth_httpx.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == status
    assert me.json().get("error") == error
