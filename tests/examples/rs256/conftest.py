# tests/examples/rs256/conftest.py
import pytest


@pytest.fixture(scope="session")
def mockauth_settings():
    return {"algorithm": "RS256", "issuer": "https://auth.example.test"}
