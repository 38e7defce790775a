"""The marker ``@pytest.mark.mockauth(...)``: what one test asks of its mock, checked at
collection and applied after the reset."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._clients import Client, client_from_mapping
from ._errors import ConfigError
from ._fixtures import User, user_from_mapping
from ._modes import arming_from_spec
from ._settings import Settings
from ._spec import load_spec
from ._values import is_number

if TYPE_CHECKING:
    from ._mock import MockAuth

# Keywords of the marker that are not settings; each is a name of the Python API:
# MockAuth(users=..., clients=..., spec=...), MockAuth.fail(mode, ...), MockAuth.clock.
MARKER_KEYWORDS = ("clients", "clock", "mode", "spec", "users")
CLOCK_ACTIONS = ("advance", "freeze", "set")
_R = TypeVar("_R", User, Client)


def marker_keywords() -> tuple[str, ...]:
    """Every keyword ``@pytest.mark.mockauth(...)`` accepts, sorted."""
    return tuple(sorted((*MARKER_KEYWORDS, *Settings.names())))


# -- per-test configuration (the marker) ---------------------------------------------


@dataclass(frozen=True)
class MarkerConfig:
    """What ``@pytest.mark.mockauth(...)`` asks of one test, checked at collection."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    spec: Path | None = None
    users: tuple[User, ...] | None = None
    modes: tuple[str, ...] = ()
    clock: Mapping[str, float | bool] = field(default_factory=dict)
    clients: tuple[Client, ...] | None = None

    def apply(self, auth: MockAuth) -> None:
        """Users, clients, modes and clock on a freshly reset mock."""
        if self.users is not None:
            for username in list(auth.users):
                auth.remove_user(username)
            for user in self.users:
                auth.add_user(user)
        if self.clients is not None:
            for client_id in list(auth.clients):
                auth.remove_client(client_id)
            for client in self.clients:
                auth.add_client(client)
        for mode in self.modes:
            auth.fail(mode, source="marker")
        clock = self.clock
        if clock.get("freeze"):
            auth.clock.freeze(float(clock["set"]) if "set" in clock else None)
        elif "set" in clock:
            auth.clock.set(float(clock["set"]))
        if "advance" in clock:
            auth.clock.advance(float(clock["advance"]))


NO_CONFIG = MarkerConfig()


def parse_marker(kwargs: Mapping[str, Any], base: Path) -> MarkerConfig:
    """Check the marker's keywords and values; raises ConfigError naming the bad one."""
    known = marker_keywords()
    for name in kwargs:
        if name not in known:
            raise ConfigError(f"unknown keyword {name!r} (keywords: {', '.join(known)})")
    given = {k: v for k, v in kwargs.items() if k in Settings.names()}
    for name in ("tls_cert", "tls_key"):  # files beside the test, as spec= is
        if isinstance(given.get(name), str):
            given[name] = str((base / given[name]).resolve())
    checked = Settings().replace(**given)  # types and ranges, as MockAuth(...) would check them
    # As Settings holds them (a policy mapping as a PasswordPolicy, a list of origins as a
    # tuple): hashable, so the plugin can keep one mock per distinct settings.
    settings = {name: getattr(checked, name) for name in given}
    spec = None
    if kwargs.get("spec") is not None:
        spec = (base / Path(kwargs["spec"])).resolve()
        load_spec(spec)
    users = _records(kwargs, "users", User, user_from_mapping)
    clients = _records(kwargs, "clients", Client, client_from_mapping)
    modes = kwargs.get("mode") or ()
    if isinstance(modes, str):
        modes = (modes,)
    if not isinstance(modes, (list, tuple)) or not all(isinstance(m, str) for m in modes):
        raise ConfigError(
            f"mode: expected a mode like 'rate_limited:operation=login:times=2' or a list "
            f"of them, got {kwargs.get('mode')!r}"
        )
    for mode in modes:
        arming_from_spec(mode)  # checks the name, the scope and the options
    return MarkerConfig(settings, spec, users, tuple(modes), _clock(kwargs.get("clock")), clients)


def _records(
    kwargs: Mapping[str, Any], name: str, kind: type[_R], build: Callable[[Any], _R]
) -> tuple[_R, ...] | None:
    """The marker's `users` or `clients`: objects or mappings, checked as MockAuth checks them."""
    if name not in kwargs:
        return None
    given = kwargs[name]
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise ConfigError(f"{name}: expected a list of {kind.__name__} objects or mappings, got {given!r}")
    records = []
    for entry in given:
        try:
            records.append(entry if isinstance(entry, kind) else build(entry))
        except ConfigError as error:
            raise ConfigError(f"{name}: {error}") from None
    return tuple(records)


def _clock(value: Any) -> dict[str, float | bool]:
    """``clock=1700000000`` freezes time there; ``clock={"advance": 901}``,
    ``{"set": t}`` and ``{"freeze": True}`` (combinable) move it as ``auth.clock`` does."""
    if value is None:
        return {}
    if is_number(value):
        return {"set": float(value), "freeze": True}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"clock: expected a Unix time or a mapping of {', '.join(CLOCK_ACTIONS)}, got {value!r}"
        )
    for key, item in value.items():
        if key not in CLOCK_ACTIONS:
            actions = ", ".join(CLOCK_ACTIONS)
            raise ConfigError(f"clock: unknown action {key!r} (actions: {actions})")
        if key == "freeze" and not isinstance(item, bool):
            raise ConfigError(f"clock: freeze must be true or false, got {item!r}")
        if key != "freeze" and not is_number(item):
            raise ConfigError(f"clock: {key} must be a number of seconds, got {item!r}")
    return dict(value)
