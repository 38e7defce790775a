"""``mockauth contract``: hold a running auth server to openapi.yaml and the auth rules."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .common import UsageError, positive_float, positive_int


def configure(contract: argparse.ArgumentParser) -> None:
    contract.description = (
        "Exit status: 0 every check passed, was skipped or is a known failure (--baseline), "
        "1 a check failed or none could run, 2 bad usage or an unreachable target. Settings also come "
        "from mockauth-contract.toml or [tool.mockauth.contract] in pyproject.toml; flags override them."
    )
    add = contract.add_argument
    add("url", nargs="?", help="base URL of the auth server (default: the file's url, or $MOCKAUTH_CONTRACT_URL)")
    add("--config", metavar="FILE", help="settings file (default: ./mockauth-contract.toml, else ./pyproject.toml)")
    add("--username", help="a user that can log in (default: $MOCKAUTH_CONTRACT_USERNAME)")
    add("--password", help="its password (default: $MOCKAUTH_CONTRACT_PASSWORD, kept out of ps)")
    add("--operations", metavar="OP[,OP...]",
        help="the operations the deployment offers, by operationId (default: those tagged auth)")
    add("--path", action="append", default=[], metavar="OP=PATH",
        help="where an operation lives on the deployment, e.g. login=/token (repeatable)")
    add("--content-type", choices=("both", "form", "json"),
        help="the request bodies the deployment takes (openapi.yaml: both; default: both)")
    add("--spec", metavar="PATH", help="OpenAPI document (default: the bundled openapi.yaml)")
    add("--budget", type=positive_float, metavar="S", help="seconds the whole run may take (default: 60)")
    add("--max-examples", type=positive_int, metavar="N", help="schemathesis cases per operation and phase")
    add("--seed", type=int, metavar="S", help="schemathesis seed, to repeat a run")
    add("--junit-xml", metavar="FILE", help="also write the results as JUnit XML")
    add("--markdown", metavar="FILE", help="also write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    add("--baseline", metavar="FILE", help="known failures: fail only on new or changed ones")
    add("--update-baseline", action="store_true", help="record this run's failures in --baseline FILE")
    add("--max-examples-shown", type=positive_int, metavar="N",
        help="show what was sent for the first N distinct failures of a check (all are counted)")
    add("--header", action="append", default=[], metavar="NAME:VALUE",
        help="send this header on every request, e.g. an API gateway key (repeatable)")
    add("--timeout", type=positive_float, metavar="S", help="seconds per request (default: 10)")
    add("--exclude-check", action="append", default=[], metavar="NAME", help="skip this check (repeatable)")
    add("--expired-token", metavar="TOKEN",
        help="an expired access token the target signed, for me_refuses_expired_token")
    add("--expiry-wait", type=positive_float, metavar="S",
        help="wait out a token's lifetime when it is at most this long (default: 10)")
    add("--no-schema", action="store_true", help="our own checks only, no schemathesis run")
    oauth = contract.add_argument_group("OAuth checks (with token, and authorize for codes, in --operations)")
    oauth.add_argument("--client-id", metavar="ID", help="the OAuth client the checks use")
    oauth.add_argument("--client-secret", metavar="SECRET",
                       help="its secret, for a confidential client (default: $MOCKAUTH_CONTRACT_CLIENT_SECRET)")
    oauth.add_argument("--redirect-uri", metavar="URI",
                       help="a redirect URI registered for the client; never called (default: http://127.0.0.1/callback)")
    oauth.add_argument("--scope", help="the scope to ask for (default: none sent)")
    challenge = contract.add_argument_group("challenge checks (with mfa and/or password in --operations)")
    challenge.add_argument("--mfa-username", metavar="USER",
                           help="a user asked for a one-time code after its password")
    challenge.add_argument("--mfa-password", metavar="P",
                           help="its password (default: $MOCKAUTH_CONTRACT_MFA_PASSWORD)")
    challenge.add_argument("--totp-secret", metavar="BASE32",
                           help="its TOTP secret (default: $MOCKAUTH_CONTRACT_TOTP_SECRET)")
    challenge.add_argument("--expired-username", metavar="USER", help="a user whose password has expired")
    challenge.add_argument("--expired-password", metavar="P",
                           help="its expired password (default: $MOCKAUTH_CONTRACT_EXPIRED_PASSWORD)")
    challenge.add_argument("--new-password", metavar="P", help="the password the checks change it to; it stays "
                           "(default: $MOCKAUTH_CONTRACT_NEW_PASSWORD)")
    contract.set_defaults(run=run_contract)


def _pairs(items: list[str], flag: str, separator: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, found, value = item.partition(separator)
        if not found or not name.strip():
            raise UsageError(f"{flag} {item!r}: expected NAME{separator}VALUE")
        pairs[name.strip()] = value.strip()
    return pairs


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags gave (those left out are absent), by Contract keyword."""
    given = {
        "url": args.url, "username": args.username, "spec": args.spec, "content_type": args.content_type,
        "budget": args.budget, "max_examples": args.max_examples, "seed": args.seed, "timeout": args.timeout,
        "expired_token": args.expired_token, "expiry_wait": args.expiry_wait, "junit_xml": args.junit_xml,
        "markdown": args.markdown, "baseline": args.baseline, "max_shown": args.max_examples_shown,
        "exclude_checks": args.exclude_check or None, "client_id": args.client_id,
        "redirect_uri": args.redirect_uri, "scope": args.scope, "mfa_username": args.mfa_username,
        "expired_username": args.expired_username,
        "operations": [op.strip() for op in args.operations.split(",") if op.strip()] if args.operations else None,
        "schema": False if args.no_schema else None,
    }
    return {keyword: value for keyword, value in given.items() if value is not None}


def run_contract(args: argparse.Namespace) -> int:
    from .._contract import CHECK_NAMES, URL_VARIABLE, USERNAME_VARIABLE, Contract, ContractError
    from .._contract.baseline import Baseline
    from .._contract.config import find
    from .._contract.results import SECRET_VARIABLES, flag

    try:
        file = find(Path.cwd(), Path(args.config) if args.config else None)
    except ContractError as error:
        raise UsageError(f"--config: {error}" if args.config else str(error)) from None
    flags = _given(args)
    settings: dict[str, Any] = {**(file.values if file else {}), **flags}
    paths = {**(file.values.get("paths", {}) if file else {}), **_pairs(args.path, "--path", "=")}
    headers = {**(file.values.get("headers", {}) if file else {}), **_pairs(args.header, "--header", ":")}

    def origin(keyword: str) -> str:
        if keyword in flags or file is None or keyword not in file.keys:
            return flag(keyword)
        return file.where(keyword)

    url = settings.get("url") or os.environ.get(URL_VARIABLE)
    username = settings.get("username") or os.environ.get(USERNAME_VARIABLE)
    secrets: dict[str, Any] = {
        keyword: getattr(args, keyword) or _secret(file, keyword, settings.get(f"{keyword}_env"), variable)
        for keyword, variable in SECRET_VARIABLES.items()
    }
    password = secrets.pop("password")
    if not url:
        raise UsageError(f"the URL is required (an argument, url in the settings file, or ${URL_VARIABLE})")
    if not username:
        raise UsageError(f"--username is required (or username in the settings file, or ${USERNAME_VARIABLE})")
    if not password:
        raise UsageError(f"--password is required (or set ${SECRET_VARIABLES['password']})")
    for name in settings.get("exclude_checks", ()):
        if name not in CHECK_NAMES:
            raise UsageError(f"{origin('exclude_checks')} {name}: unknown check (known: {', '.join(CHECK_NAMES)})")
    if settings.get("spec") is not None and not Path(settings["spec"]).is_file():
        raise UsageError(f"{origin('spec')} {settings['spec']}: no such file")
    for keyword in ("junit_xml", "markdown"):
        if settings.get(keyword) and not Path(settings[keyword]).resolve().parent.is_dir():
            raise UsageError(f"{origin(keyword)} {settings[keyword]}: no such directory")
    if args.update_baseline and not settings.get("baseline"):
        raise UsageError("--update-baseline: name the file with --baseline FILE (or baseline in the settings file)")
    if file is not None:
        print(f"settings from {file.path}", flush=True)
    keywords = ("spec", "operations", "content_type", "max_examples", "seed", "timeout", "exclude_checks",
                "expired_token", "expiry_wait", "schema", "budget", "client_id", "redirect_uri", "scope",
                "mfa_username", "expired_username")
    try:
        contract = Contract(
            url, username=username, password=password, paths=paths, headers=headers, option_style="flag",
            baseline=None if args.update_baseline else settings.get("baseline"),
            **{keyword: settings[keyword] for keyword in keywords if keyword in settings},
            **{keyword: value for keyword, value in secrets.items() if value},
        )
        report = contract.run(progress=lambda line: print(line, flush=True))
    except ContractError as error:
        if error.field is None:
            raise
        raise UsageError(f"{origin(error.field)}: {error.problem}") from None
    if args.update_baseline:
        recorded = Baseline.write(Path(settings["baseline"]), report.target, report.results)
        report.apply_baseline(Baseline.read(Path(settings["baseline"])))
        print(f"recorded {recorded} known failures in {settings['baseline']}", flush=True)
    print()
    print(report.render(settings.get("max_shown")), flush=True)
    for keyword, text in (("junit_xml", report.junit_xml), ("markdown", report.markdown)):
        if settings.get(keyword):
            try:
                Path(settings[keyword]).write_text(text(), encoding="utf-8")
            except OSError as error:
                raise UsageError(f"{origin(keyword)} {settings[keyword]}: cannot write: {error.strerror}") from None
    return report.exit_code


def _secret(file: Any, keyword: str, variable: str | None, default_variable: str) -> str | None:
    """A secret from the variable the settings file names, else from its default variable."""
    if variable and os.environ.get(variable):
        return os.environ[variable]
    if os.environ.get(default_variable):
        return os.environ[default_variable]
    if variable:
        flag_name = "--" + keyword.replace("_", "-")
        raise UsageError(f"{file.where(keyword + '_env')}: ${variable} is not set (or pass {flag_name})")
    return None
