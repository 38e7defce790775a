# tests/examples/test_example_httpx.py
def test_me(mockauth_httpx):
    admin = {"username": "admin", "password": "adminpassword"}
    login = mockauth_httpx.post("/auth/login", data=admin)
    token = login.json()["access_token"]
    me = mockauth_httpx.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["sub"] == "admin"
