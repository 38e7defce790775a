"""The exceptions mockauth raises.

    MockAuthError
    ├── ConfigError       a setting, a mode or a call's arguments are wrong
    │   └── ModeError     an unknown mode, option or scope
    ├── FixtureError      a fixture file is unreadable or a user entry is wrong
    ├── SpecError         openapi.yaml is unreadable or does not fit the app
    ├── UnknownUserError  an operation names a user the mock does not know
    ├── UnknownClientError  an operation names an OAuth client the mock does not know
    ├── ServerError       the live server could not start, or a request crashed in it
    ├── StoreUnavailable  the shared state store (Redis) cannot be reached
    └── Disconnected      (also a ConnectionResetError) the `disconnect` mode closed
                          the connection, as seen through an in-process door
"""

from __future__ import annotations


class MockAuthError(Exception):
    """The base of every error mockauth raises."""


class ConfigError(MockAuthError, ValueError):
    """A setting or argument is wrong; the message names it."""


class ModeError(ConfigError):
    """An unknown mode, a bad option or a bad scope."""


class FixtureError(MockAuthError, ValueError):
    """A fixture file is wrong; the message names the file, the entry and the field."""


class SpecError(MockAuthError):
    """The OpenAPI document is unreadable or does not match the app's operations."""


class UnknownUserError(MockAuthError, LookupError):
    """No user by that name."""


class UnknownClientError(MockAuthError, LookupError):
    """No OAuth client by that client_id."""


class ServerError(MockAuthError):
    """The live server failed to start, or a request raised inside it."""


class StoreUnavailable(MockAuthError):
    """The shared state store (Redis) cannot be reached; the API answers 503 meanwhile."""


class Disconnected(MockAuthError, ConnectionResetError):
    """The `disconnect` mode closed the connection without a response."""
