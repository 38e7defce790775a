"""mockauth: a mock auth server and test harness.

>>> from mockauth import MockAuth
>>> auth = MockAuth.from_fixtures()           # the bundled users and settings
>>> with auth.serve() as server:               # doctest: +SKIP
...     requests.post(server.url + "/auth/login", data={"username": ..., "password": ...})
"""

from __future__ import annotations

from ._clock import Clock as Clock
from ._contract import CheckResult as CheckResult
from ._contract import Contract as Contract
from ._contract import ContractError as ContractError
from ._contract import ContractReport as ContractReport
from ._contract import contract_test as contract_test
from ._core import MockAuth as MockAuth
from ._errors import ConfigError as ConfigError
from ._errors import Disconnected as Disconnected
from ._errors import FixtureError as FixtureError
from ._errors import MockAuthError as MockAuthError
from ._errors import ModeError as ModeError
from ._errors import ServerError as ServerError
from ._errors import SpecError as SpecError
from ._errors import StoreUnavailable as StoreUnavailable
from ._errors import UnknownUserError as UnknownUserError
from ._journal import Entry as Entry
from ._journal import Journal as Journal
from ._journal import JournalAssertionError as JournalAssertionError
from ._modes import MODES as MODES
from ._modes import Arming as Arming
from ._modes import Mode as Mode
from ._settings import Settings as Settings
from ._spec import default_fixtures_path as default_fixtures_path
from ._spec import default_spec_path as default_spec_path
from ._transports import Interceptor as Interceptor
from ._transports import Server as Server
from ._users import User as User
from ._users import load_fixtures as load_fixtures

__version__ = "0.1.0"

__all__ = [
    "Arming",
    "CheckResult",
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
    "UnknownUserError",
    "User",
    "contract_test",
    "default_fixtures_path",
    "default_spec_path",
    "load_fixtures",
]
