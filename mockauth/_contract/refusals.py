"""The auth checks that hold ``me`` to refusing bad bearer tokens: missing, malformed,
tampered, unsigned, expired. Each first proves that ``me`` accepts a good token, so a
refusal means something. Rows of ``checks.AUTH``."""

from __future__ import annotations

import time

from .._values import is_number
from .probe import Probe, Skipped, decoded
from .tokens import b64decode, b64encode, encode_json


def check_missing_token(probe: Probe) -> None:
    probe.working_token()
    probe.refused(probe.me(None), "a request with no Authorization header")


def check_malformed_token(probe: Probe) -> None:
    probe.working_token()
    probe.refused(probe.me("not-a-jwt"), "the bearer token 'not-a-jwt'")
    probe.refused(probe.me(None, authorization="Basic dXNlcjpwYXNz"), "an Authorization header that is not Bearer")


def check_tampered_token(probe: Probe) -> None:
    login = probe.working_token()
    _, claims, signature = decoded(login)
    head, body, _ = login.access_token.split(".")
    raw = bytearray(b64decode(signature) or b"\0")
    raw[0] ^= 0xFF  # a changed byte, not a changed last character: those bits may be unused
    probe.refused(probe.me(f"{head}.{body}.{b64encode(bytes(raw))}"), "a token with a changed signature")
    longer = dict(claims, exp=(claims["exp"] if is_number(claims.get("exp")) else int(time.time())) + 86400)
    probe.refused(
        probe.me(f"{head}.{encode_json(longer)}.{signature}"),
        "a token whose claims were changed (exp pushed a day on) under the original signature",
    )


def check_alg_none(probe: Probe) -> None:
    login = probe.working_token()
    header, claims, _ = decoded(login)
    for alg in ("none", "None"):
        forged = f"{encode_json(dict(header, alg=alg))}.{encode_json(claims)}."
        probe.refused(probe.me(forged), f"an unsigned token (header alg '{alg}')")


def check_expired_token(probe: Probe) -> None:
    options = probe.options
    if options.expired_token:  # its exp is in the past: Contract(...) refuses it otherwise
        probe.working_token()
        given = options.option("expired_token", "TOKEN")
        probe.refused(probe.me(options.expired_token), f"the expired token given ({given})")
        return
    expires_in = probe.working_token().body.get("expires_in")
    to_test = f"pass {options.option('expired_token', 'TOKEN')} (one the target signed that has expired) to test it"
    if not is_number(expires_in):
        raise Skipped(f"the login answer has no expires_in, so there is no telling when a token expires; {to_test}")
    if expires_in > options.expiry_wait:
        raise Skipped(
            f"tokens live {expires_in:g} s, longer than the {options.expiry_wait:g} s this run waits "
            f"({options.option('expiry_wait')}); {to_test}"
        )
    login = probe.working_token(fresh=True)  # its own: the wait starts at its issue
    issued = time.monotonic()
    # Our own clock, from the login answer: the target's clock may be off from ours.
    time.sleep(max(0.0, issued + expires_in + 1.5 - time.monotonic()))
    probe.refused(probe.me(login.access_token), f"a token past its lifetime ({expires_in:g} s, waited out)")
