"""The ``mockauth`` command: serve, token, check, contract."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from ._core import MockAuth
from ._errors import ConfigError, MockAuthError
from ._modes import ModeBoard
from ._settings import Settings, parse_setting
from ._users import load_fixtures

if TYPE_CHECKING:
    from ._watch import FixtureWatcher

DEFAULT_PORT = 8765


class _Parser(argparse.ArgumentParser):
    """Bad usage: one line naming the flag, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class UsageError(Exception):
    """A wrong flag value found after parsing; one line, exit status 2."""


def _add_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (also the keys of a fixture file's settings: block)")
    for field in dataclasses.fields(Settings):
        group.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            metavar=field.name.upper(),
            default=None,
            help=f"{field.metadata['help']} (default: {_shown(field.default)})",
        )


def _shown(default: Any) -> Any:
    return ",".join(default) if isinstance(default, tuple) else default


def _settings_from(args: argparse.Namespace) -> dict[str, Any]:
    values = {}
    for name in Settings.names():
        text = getattr(args, name, None)
        if text is not None:
            try:
                values[name] = parse_setting(name, text)
            except MockAuthError as error:
                raise UsageError(f"--{name.replace('_', '-')}: {error}") from None
    return values


def _load(args: argparse.Namespace) -> MockAuth:
    given = _settings_from(args)
    try:
        return MockAuth.from_fixtures(args.fixtures, spec=args.spec, **given)
    except ConfigError as error:
        # A setting refused after parsing names its flag when the flag gave it.
        name = str(error).partition("'")[2].partition("'")[0]
        if str(error).startswith("setting '") and name in given:
            raise UsageError(f"--{name.replace('_', '-')}: {error}") from None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mockauth",
        description="A mock auth server and test harness.",
    )
    parser.add_argument("--version", action="version", version=f"mockauth {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the mock auth server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 picks a free one)"
    )
    serve.add_argument("--fixtures", metavar="PATH", help="fixture file or folder (default: the bundled fixtures)")
    serve.add_argument("--spec", metavar="PATH", help="OpenAPI document (default: the bundled openapi.yaml)")
    serve.add_argument(
        "--mode", action="append", default=[], metavar="NAME[:KEY=VALUE...]",
        help="arm an error mode at start, e.g. rate_limited:operation=login:times=2 (repeatable)",
    )
    serve.add_argument(
        "--watch", action="store_true",
        help="reload the fixtures' users when a file changes, keeping tokens, modes and clock "
        "(a changed settings: block needs a restart)",
    )
    production = serve.add_argument_group("production server (pip install 'mockauth[server]')")
    production.add_argument(
        "--workers", type=int, metavar="N",
        help="serve on gunicorn with N worker processes (default: Werkzeug's threaded "
        "server in this one process); N > 1 needs --state redis://HOST:PORT/DB (or "
        "--accept-per-worker-state)",
    )
    production.add_argument(
        "--threads", type=int, default=None, metavar="T",
        help="threads per gunicorn worker (default: 4)",
    )
    production.add_argument(
        "--accept-per-worker-state", action="store_true",
        help="serve with N > 1 although each worker keeps its own tokens, modes, clock "
        "and journal; control-API changes are then refused with 409",
    )
    _add_settings(serve)
    serve.set_defaults(run=run_serve)

    token = commands.add_parser("token", help="print a valid access token for a fixture user")
    token.add_argument("user", help="username or email")
    token.add_argument("--fixtures", metavar="PATH", help="fixture file or folder (default: the bundled fixtures)")
    token.add_argument("--spec", metavar="PATH", help=argparse.SUPPRESS)
    token.add_argument("--expires-in", type=int, metavar="SECONDS", help="lifetime; negative for an expired token")
    _add_settings(token)
    token.set_defaults(run=run_token)

    check = commands.add_parser("check", help="validate fixture files")
    check.add_argument("path", nargs="+", help="fixture file or folder")
    check.set_defaults(run=run_check)

    contract = commands.add_parser(
        "contract", help="hold a running auth server to openapi.yaml and the auth rules",
        description="Exit status: 0 every check passed or was skipped, 1 a check failed, "
        "2 bad usage or an unreachable target.",
    )
    add = contract.add_argument
    add("url", help="base URL of the auth server, e.g. https://auth.staging.example.com")
    add("--username", help="a user that can log in (default: $MOCKAUTH_CONTRACT_USERNAME)")
    add("--password", help="its password (default: $MOCKAUTH_CONTRACT_PASSWORD, kept out of ps)")
    add("--spec", metavar="PATH", help="OpenAPI document (default: the bundled openapi.yaml)")
    add("--max-examples", type=_positive_int, metavar="N", help="schemathesis examples per phase")
    add("--seed", type=int, metavar="S", help="schemathesis seed, to repeat a run")
    add("--junit-xml", metavar="FILE", help="also write the results as JUnit XML")
    add(
        "--header", action="append", default=[], metavar="NAME:VALUE",
        help="send this header on every request, e.g. an API gateway key (repeatable)",
    )
    add("--timeout", type=_positive_float, default=10.0, metavar="S",
        help="seconds per request (default: 10)")
    add("--exclude-check", action="append", default=[], metavar="NAME",
        help="skip this check (repeatable)")
    add(
        "--expired-token", metavar="TOKEN",
        help="an expired access token the target signed, for me_refuses_expired_token",
    )
    add(
        "--expiry-wait", type=_positive_float, default=10.0, metavar="S",
        help="wait out a token's lifetime when it is at most this long (default: 10)",
    )
    add("--no-schema", action="store_true", help="auth checks only, no schemathesis run")
    contract.set_defaults(run=run_contract)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _check_workers(args: argparse.Namespace) -> None:
    """Refuse --workers, --threads and --accept-per-worker-state values that do not fit."""
    if args.workers is None:
        if args.threads is not None or args.accept_per_worker_state:
            flag = "--threads" if args.threads is not None else "--accept-per-worker-state"
            raise UsageError(f"{flag} applies only with --workers")
        return
    if args.watch:
        # The workers are forked copies: a reload in the arbiter would reach none of them.
        raise UsageError("--watch works only without --workers (Werkzeug's server)")
    if args.workers < 1:
        raise UsageError(f"--workers: expected a whole number of at least 1, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads: expected a whole number of at least 1, got {args.threads}")


def _check_shared_state(auth: MockAuth, args: argparse.Namespace) -> None:
    """Several workers need a shared store, or an explicit acceptance of per-worker state."""
    if args.workers is None or args.workers == 1 or auth.store.shared:
        return
    from ._production import STATE_NOTE

    if not args.accept_per_worker_state:
        raise UsageError(
            f"--workers {args.workers}: with --state memory {STATE_NOTE}, so a refresh or "
            "logout that reaches another worker than its login fails, and a control-API "
            "change would reach one worker only. Share the state: --state redis://HOST:PORT/DB "
            "(pip install 'mockauth[redis]'); or pass --accept-per-worker-state to serve "
            "anyway (control-API changes are then refused with 409); or use --workers 1"
        )
    for spec in args.mode:
        if any(key in spec for key in (":times=", ":probability=")):
            raise UsageError(
                f"--mode {spec}: with --workers {args.workers} each worker would count "
                "times and draw probabilities on its own; arm it without them, share the "
                "state with --state redis://HOST:PORT/DB, or use --workers 1"
            )


def run_serve(args: argparse.Namespace) -> int:
    _check_workers(args)
    auth = _load(args)
    _expose(auth, args.host)
    _check_shared_state(auth, args)
    # In a shared store, only the process that seeded it arms the --mode flags: a second
    # process started with the same command line must not arm them twice.
    board = auth.modes if auth.seeded else ModeBoard()
    for spec in args.mode:
        try:
            board.arm_spec(spec, source="cli")
        except MockAuthError as error:
            raise UsageError(f"--mode {spec}: {error}") from None
    if args.workers is not None:
        return _serve_production(auth, args)
    from ._transports import Server

    # Ctrl-C and SIGTERM only set an event, so neither can interrupt start-up or
    # shutdown half-way with a traceback.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = Server(
        auth.app, args.host, args.port, quiet=False, on_stop=None,
        read_timeout=auth.settings.read_timeout,
    )
    server.start()
    _print_banner(auth, server.url)
    watcher = _watch(auth) if args.watch else None
    while not stop.wait(0.5):
        pass
    if watcher is not None:
        watcher.stop()
    server.stop()
    auth.store.close()
    print("mockauth: stopped", flush=True)
    return 0


def _serve_production(auth: MockAuth, args: argparse.Namespace) -> int:
    from . import _production

    threads = args.threads or _production.DEFAULT_THREADS
    per_worker = args.workers > 1 and not auth.store.shared
    if per_worker:
        auth.app.refuse_state_changes(
            f"This server runs {args.workers} worker processes and {_production.STATE_NOTE}; "
            "a change here would reach one of them only. Restart with --workers 1 to "
            "change state through the control API."
        )

    def ready(url: str) -> None:
        _print_banner(auth, url)
        where = f"  server: gunicorn, {args.workers} worker(s) x {threads} threads"
        if per_worker:
            where += f"; {_production.STATE_NOTE} (control-API changes answer 409)"
        elif args.workers > 1:
            where += ", sharing one state"
        print(where, flush=True)

    _production.serve(
        auth.app, args.host, args.port, workers=args.workers, threads=threads, on_ready=ready
    )
    auth.store.close()
    print("mockauth: stopped", flush=True)
    return 0


def _watch(auth: MockAuth) -> FixtureWatcher:
    from ._watch import FixtureWatcher

    watcher = FixtureWatcher(auth).start()
    print(f"  watching {watcher.path} for changes", flush=True)
    return watcher


def _expose(auth: MockAuth, host: str) -> None:
    """Off loopback: refuse the default secret, arm the admin token, say it is a mock.

    Before any server starts (whichever serves), on stderr, so stdout still opens with
    the banner's URL line."""
    from ._exposure import expose

    try:
        exposure = expose(auth, host)
    except ConfigError as error:
        raise UsageError(f"--host {host}: {error} (--secret)") from None
    for line in exposure.warnings():
        print(f"mockauth: {line}", file=sys.stderr, flush=True)


def _print_banner(auth: MockAuth, url: str) -> None:
    settings = auth.settings
    print(f"mockauth {__version__} serving {url}  ({settings.algorithm}, issuer {settings.issuer!r})")
    print(f"  fixtures: {auth.fixtures_path}")
    if auth.store.shared:
        how = "seeded from the fixtures" if auth.seeded else "joined the state other processes left"
        print(f"  state: {auth.store.url} namespace {settings.state_namespace!r} ({how})")
    print(f"  users ({len(auth.users)}):")
    for user in auth.users.values():
        notes = [f"email {user.email}"] if user.email else []
        notes += [flag for flag in ("locked", "disabled") if getattr(user, flag)]
        notes += [f"mode {user.mode}"] if user.mode else []
        print(f"    {user.username}" + (f"  ({', '.join(notes)})" if notes else ""))
    for arming in auth.modes.armed():
        if arming.source == "cli":
            print(f"  armed: {arming.mode.name} {arming.as_dict()}")
    # Passwords stay in the fixture file: nothing secret goes to the log.
    print(f"  try: curl -X POST {url}/auth/login -d username=USER -d password=PASSWORD")
    print(f"  dashboard: {url}/_mockauth/   (Ctrl-C to stop)", flush=True)


def run_token(args: argparse.Namespace) -> int:
    auth = _load(args)
    user = auth.find_user(args.user)
    if user is None:
        raise UsageError(f"user {args.user!r}: not in the fixtures (users: {', '.join(auth.users)})")
    if auth.settings.algorithm != "HS256" and not auth.settings.key_file:
        print(
            "mockauth: warning: no --key-file, so this token is signed with a key made for this "
            "command alone and no server will accept it",
            file=sys.stderr,
        )
    print(auth.issue_token(user.username, expires_in=args.expires_in))
    return 0


def run_check(args: argparse.Namespace) -> int:
    for path in args.path:
        fixtures = load_fixtures(path)
        names = ", ".join(user.username for user in fixtures.users)
        print(f"{path}: ok, {len(fixtures.users)} users ({names})")
    return 0


def run_contract(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from ._contract import CHECK_NAMES, PASSWORD_VARIABLE, USERNAME_VARIABLE, Contract

    username = args.username or os.environ.get(USERNAME_VARIABLE)
    password = args.password or os.environ.get(PASSWORD_VARIABLE)
    if not username:
        raise UsageError(f"--username is required (or set {USERNAME_VARIABLE})")
    if not password:
        raise UsageError(f"--password is required (or set {PASSWORD_VARIABLE})")
    headers = {}
    for item in args.header:
        name, colon, value = item.partition(":")
        if not colon or not name.strip():
            raise UsageError(f"--header {item!r}: expected NAME:VALUE")
        headers[name.strip()] = value.strip()
    for name in args.exclude_check:
        if name not in CHECK_NAMES:
            known = ", ".join(CHECK_NAMES)
            raise UsageError(f"--exclude-check {name}: unknown check (known: {known})")
    if args.spec is not None and not Path(args.spec).is_file():
        raise UsageError(f"--spec {args.spec}: no such file")
    if args.junit_xml and not Path(args.junit_xml).resolve().parent.is_dir():
        raise UsageError(f"--junit-xml {args.junit_xml}: no such directory")
    contract = Contract(
        args.url, username=username, password=password, spec=args.spec,
        max_examples=args.max_examples, seed=args.seed, headers=headers, timeout=args.timeout,
        exclude_checks=args.exclude_check, expired_token=args.expired_token,
        expiry_wait=args.expiry_wait, schema=not args.no_schema,
    )
    report = contract.run(progress=lambda line: print(line, flush=True))
    print()
    print(report.render(), flush=True)
    if args.junit_xml:
        try:
            Path(args.junit_xml).write_text(report.junit_xml(), encoding="utf-8")
        except OSError as error:
            reason = error.strerror
            raise UsageError(f"--junit-xml {args.junit_xml}: cannot write: {reason}") from None
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
        return code
    except (UsageError, MockAuthError) as error:
        print(f"mockauth {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
