"""mockauth: a mock auth server and test harness.

>>> from mockauth import MockAuth
>>> auth = MockAuth.from_fixtures()           # the bundled users and settings
>>> with auth.serve() as server:               # doctest: +SKIP
...     requests.post(server.url + "/auth/login", data={"username": ..., "password": ...})

Every public name is imported on first use (PEP 562): ``import mockauth``, and with it
every pytest run where the plugin is installed, loads none of the app, PyJWT,
cryptography or the contract runner until a name that needs them is touched.
"""

from __future__ import annotations

import typing as _typing

from ._errors import ConfigError as ConfigError
from ._errors import Disconnected as Disconnected
from ._errors import FixtureError as FixtureError
from ._errors import MockAuthError as MockAuthError
from ._errors import ModeError as ModeError
from ._errors import ServerError as ServerError
from ._errors import SpecError as SpecError
from ._errors import StoreUnavailable as StoreUnavailable
from ._errors import UnknownClientError as UnknownClientError
from ._errors import UnknownUserError as UnknownUserError
from ._version import __version__ as __version__

if _typing.TYPE_CHECKING:
    from ._clients import Client as Client
    from ._contract import CheckResult as CheckResult
    from ._contract import Contract as Contract
    from ._contract import ContractError as ContractError
    from ._contract import ContractReport as ContractReport
    from ._contract import contract_test as contract_test
    from ._doors.inprocess import Interceptor as Interceptor
    from ._doors.live import Server as Server
    from ._fixtures import User as User
    from ._fixtures import load_fixtures as load_fixtures
    from ._mock import MockAuth as MockAuth
    from ._modes import MODES as MODES
    from ._modes import Arming as Arming
    from ._modes import Mode as Mode
    from ._settings import Settings as Settings
    from ._spec import default_fixtures_path as default_fixtures_path
    from ._spec import default_spec_path as default_spec_path
    from ._state.clock import Clock as Clock
    from ._state.journal import Entry as Entry
    from ._state.journal import Journal as Journal
    from ._state.journal import JournalAssertionError as JournalAssertionError

# Each lazily imported name, and the module it lives in.
_LAZY = {
    "Arming": "._modes",
    "CheckResult": "._contract",
    "Client": "._clients",
    "Clock": "._state.clock",
    "Contract": "._contract",
    "ContractError": "._contract",
    "ContractReport": "._contract",
    "Entry": "._state.journal",
    "Interceptor": "._doors.inprocess",
    "Journal": "._state.journal",
    "JournalAssertionError": "._state.journal",
    "MODES": "._modes",
    "MockAuth": "._mock",
    "Mode": "._modes",
    "Server": "._doors.live",
    "Settings": "._settings",
    "User": "._fixtures",
    "contract_test": "._contract",
    "default_fixtures_path": "._spec",
    "default_spec_path": "._spec",
    "load_fixtures": "._fixtures",
}


def __getattr__(name: str) -> _typing.Any:
    from importlib import import_module

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mockauth' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Arming",
    "CheckResult",
    "Client",
    "Clock",
    "ConfigError",
    "Contract",
    "ContractError",
    "ContractReport",
    "Disconnected",
    "Entry",
    "FixtureError",
    "Interceptor",
    "Journal",
    "JournalAssertionError",
    "MODES",
    "MockAuth",
    "MockAuthError",
    "Mode",
    "ModeError",
    "Server",
    "ServerError",
    "Settings",
    "SpecError",
    "StoreUnavailable",
    "UnknownClientError",
    "UnknownUserError",
    "User",
    "contract_test",
    "default_fixtures_path",
    "default_spec_path",
    "load_fixtures",
]
