"""What every ``mockauth`` subcommand shares: usage errors, the settings flags, loading
the mock from the flags."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from typing import Any, NoReturn

from .._errors import ConfigError, MockAuthError
from .._mock import MockAuth
from .._settings import Settings, parse_setting

DEFAULT_PORT = 8765


class Parser(argparse.ArgumentParser):
    """Bad usage: one line naming the flag, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class UsageError(Exception):
    """A wrong flag value found after parsing; one line, exit status 2."""


def add_settings(parser: argparse.ArgumentParser, names: Iterable[str] | None = None) -> None:
    """A flag for each setting (or for those `names`, for a command that uses only them)."""
    group = parser.add_argument_group("settings (also the keys of a fixture file's settings: block)")
    chosen = set(Settings.names() if names is None else names)
    for field in dataclasses.fields(Settings):
        if field.name not in chosen:
            continue
        # A yes/no setting alone means yes: `--tls` is `--tls true`.
        switch: dict[str, Any] = {"nargs": "?", "const": "true"} if isinstance(field.default, bool) else {}
        group.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            metavar=field.name.upper(),
            default=None,
            help=_with_default(field.metadata["help"], field.default),
            **switch,
        )


def _with_default(text: str, default: Any) -> str:
    """A setting's help with its default as the flag takes it (`true`, not `True`), once."""
    if default is None and "(default:" in text:  # the help says what happens without it
        return text
    if isinstance(default, tuple):
        shown = ",".join(default) or "none"
    elif isinstance(default, bool):
        shown = str(default).lower()
    else:
        shown = "none" if default is None else default
    return f"{text} (default: {shown})"


def plural(count: int, word: str) -> str:
    """``1 user``, ``5 users``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    values = {}
    for name in Settings.names():
        text = getattr(args, name, None)
        if text is not None:
            try:
                values[name] = parse_setting(name, text)
            except MockAuthError as error:
                raise UsageError(f"--{name.replace('_', '-')}: {error}") from None
    return values


def load(args: argparse.Namespace) -> MockAuth:
    given = settings_from(args)
    try:
        return MockAuth.from_fixtures(args.fixtures, spec=args.spec, **given)
    except ConfigError as error:
        # A setting refused after parsing names its flag when the flag gave it.
        name = str(error).partition("'")[2].partition("'")[0]
        if str(error).startswith("setting '") and name in given:
            raise UsageError(f"--{name.replace('_', '-')}: {error}") from None
        raise


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535 (0: a free one), got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value
