"""``mockauth serve``: the mock on Werkzeug's threaded server, or on gunicorn workers."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from .._errors import ConfigError, MockAuthError
from .._mock import MockAuth
from .._modes import Arming, arming_from_spec
from .._version import __version__
from .common import DEFAULT_PORT, UsageError, add_settings, load, port_number

if TYPE_CHECKING:
    from .._doors.exposure import Exposure
    from .._doors.tls import ServerTLS
    from .watch import FixtureWatcher


def configure(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 picks a free one)"
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
    add_settings(serve)
    serve.set_defaults(run=run_serve)


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
    if args.workers is None or args.workers == 1 or auth.stores.shared:
        return
    from .._doors.production import STATE_NOTE

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
    auth = load(args)
    # Nothing calls check() on a served mock: a bug is logged and answered 500, and
    # keeping it as well would let any client grow the server (a traceback a request).
    auth.app.keep_errors = False
    exposure = _expose(auth, args.host)
    _check_shared_state(auth, args)
    # In a shared store, only the process that seeded it arms the --mode flags: a second
    # process started with the same command line only checks them, and must not arm
    # them twice.
    for spec in args.mode:
        try:
            if auth.seeded:
                auth.modes.arm_spec(spec, source="cli")
            else:
                arming_from_spec(spec, source="cli")
        except MockAuthError as error:
            raise UsageError(f"--mode {spec}: {error}") from None
    tls = None
    if auth.settings.tls:  # a plain-HTTP start never loads the TLS door
        from .._doors.tls import server_tls

        # Before any server starts: a certificate that is unreadable, expired or not the
        # key's is one line and exit status 2.
        tls = server_tls(auth.settings, args.host, log=auth.log)
    if args.workers is not None:
        return _serve_production(auth, args, exposure, tls)
    from .._doors.live import Server

    # Ctrl-C and SIGTERM only set an event, so neither can interrupt start-up or
    # shutdown half-way with a traceback.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = Server(
        auth.app, args.host, args.port, quiet=False, on_stop=None,
        read_timeout=auth.settings.read_timeout, guard=exposure.guard, tls=tls,
    )
    server.start()
    _print_banner(auth, server.url, tls)
    watcher = _watch(auth) if args.watch else None
    while not stop.wait(0.5):
        pass
    if watcher is not None:
        watcher.stop()
    server.stop()
    auth.stores.close()
    print("mockauth: stopped", flush=True)
    return 0


def _serve_production(
    auth: MockAuth, args: argparse.Namespace, exposure: Exposure, tls: ServerTLS | None
) -> int:
    from .._doors import production as _production

    threads = args.threads or _production.DEFAULT_THREADS
    auth.app.route_everything()
    per_worker = args.workers > 1 and not auth.stores.shared
    if per_worker:
        auth.app.refuse_state_changes(
            f"This server runs {args.workers} worker processes and {_production.STATE_NOTE}; "
            "a change here would reach one of them only. Restart with --workers 1 to "
            "change state through the control API."
        )

    def ready(url: str) -> None:
        _print_banner(auth, url, tls)
        where = f"  server: gunicorn, {args.workers} worker(s) x {threads} threads"
        if per_worker:
            where += f"; {_production.STATE_NOTE} (control-API changes answer 409)"
        elif args.workers > 1:
            where += ", sharing one state"
        print(where, flush=True)

    _production.serve(
        auth.app, args.host, args.port, workers=args.workers, threads=threads, on_ready=ready,
        guard=exposure.guard, tls=tls,
    )
    auth.stores.close()
    print("mockauth: stopped", flush=True)
    return 0


def _watch(auth: MockAuth) -> FixtureWatcher:
    from .watch import FixtureWatcher

    watcher = FixtureWatcher(auth).start()
    print(f"  watching {watcher.path} for changes", flush=True)
    return watcher


def _expose(auth: MockAuth, host: str) -> Exposure:
    """Off loopback: refuse the default secret, choose the admin token, say it is a mock.

    Before any server starts (whichever serves), on stderr, so stdout still opens with
    the banner's URL line."""
    import socket

    from .._doors.exposure import expose

    try:
        socket.getaddrinfo(host, None)
    except OSError as error:  # before the warnings and the admin token of a server that never starts
        raise UsageError(f"--host {host}: does not resolve ({error.strerror})") from None
    try:
        exposure = expose(auth.app, host)
    except ConfigError as error:
        raise UsageError(f"--host {host}: {error} (--secret)") from None
    for line in exposure.warnings():
        print(f"mockauth: {line}", file=sys.stderr, flush=True)
    return exposure


def _print_banner(auth: MockAuth, url: str, tls: ServerTLS | None = None) -> None:
    settings = auth.settings
    issuer = settings.issuer or settings.public_url or url
    print(f"mockauth {__version__} serving {url}  ({settings.algorithm}, issuer {issuer!r})")
    print(f"  fixtures: {auth.fixtures_path}")
    if auth.stores.shared:
        how = "seeded from the fixtures" if auth.seeded else "joined the state other processes left"
        print(f"  state: {auth.stores.url} namespace {settings.state_namespace!r} ({how})")
    print(f"  users ({len(auth.users)}):")
    for user in auth.users.values():
        notes = [f"email {user.email}"] if user.email else []
        notes += [flag for flag in ("locked", "disabled") if getattr(user, flag)]
        notes += [f"mode {user.mode}"] if user.mode else []
        print(f"    {user.username}" + (f"  ({', '.join(notes)})" if notes else ""))
    if auth.clients:
        print(f"  OAuth clients ({len(auth.clients)}):")
        for client in auth.clients.values():
            kind = "public, PKCE" if client.public else "confidential"
            print(f"    {client.client_id}  ({kind}; {', '.join(client.grant_types)})")
        print(f"  discovery: {settings.public_url or url}/.well-known/openid-configuration")
    for arming in auth.modes.armed():
        if arming.source == "cli":
            print(f"  armed: {_described(arming)}")
    if tls is not None:
        _print_tls(tls, url)
    # Passwords stay in the fixture file: nothing secret goes to the log.
    print(f"  try: curl -X POST {url}/auth/login -d username=USER -d password=PASSWORD")
    print(f"  dashboard: {url}/_mockauth/   (Ctrl-C to stop)", flush=True)


def _described(arming: Arming) -> str:
    """An arming as the --mode flag spells it: ``unavailable (operation=login, times=2)``."""
    scope = {key: getattr(arming, key) for key in ("operation", "user", "times", "probability", "seed")}
    parts = [f"{key}={_number(value)}" for key, value in {**scope, **arming.options}.items() if value is not None]
    return arming.mode.name + (f" ({', '.join(parts)})" if parts else "")


def _number(value: object) -> object:
    return f"{value:g}" if isinstance(value, float) else value


def _print_tls(tls: ServerTLS, url: str) -> None:
    if tls.ca_bundle is None:
        print(f"  HTTPS: your certificate {tls.cert_file} (key {tls.key_file})")
        return
    from .tls import trust_lines

    print(f"  HTTPS: a certificate for {', '.join(tls.names)} from mockauth's local CA, renewed while serving")
    print("\n".join(trust_lines(tls.ca_bundle, url)))
