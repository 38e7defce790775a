"""The challenge checks: a login that asks for more than a password, as a table
(``CHALLENGE``) of the steps of two flows, run in order because each builds on the one
before. They run when ``mfa`` or ``password`` is among the operations:

* one-time codes (``mfa``), for ``mfa_username`` / ``mfa_password`` and, for the code
  steps, the user's ``totp_secret`` (RFC 6238: the code computed with pyotp at the
  runner's clock, so the target's clock must be within a step of it);
* expired passwords (``password``), for ``expired_username`` / ``expired_password`` and,
  for the change, a ``new_password`` the deployment's policy allows.

What they change on the target, each said in the report: a wrong code is sent once (a step
toward a lockout where the deployment has one; the right code sent after it resets the
count on the mock), and a replayed code once (the mock does not count it); the expired
user's password becomes ``new_password`` and stops being expired, and its old password is
tried once after. A second run needs the user expired again (on the mock,
``POST /_mockauth/reset``); until then ``password_expired`` is skipped saying so.
"""

from __future__ import annotations

import time

import pyotp

from .client import Exchange
from .probe import Check, CheckTable, Failed, Probe, Skipped, as_login

STEP = 30  # seconds a TOTP code lives (RFC 6238's X, as nearly every authenticator uses)
# A code is sent only this long before its step ends, so its replay falls in the same step.
MARGIN = 8.0
WEAK_PASSWORD = "a"  # breaks any password policy at all


class _TOTP(pyotp.TOTP):
    # pyotp refuses secrets under 112 bits (NIST SP 800-63B-4); authenticator apps still
    # hand out 80-bit ones (JBSWY3DPEHPK3PXP is one).
    min_secret_length_bits = 80


def totp(secret: str) -> pyotp.TOTP:
    """The generator of `secret` (base32, spaces and case as an app shows them); ValueError if it is not one."""
    return _TOTP(secret.replace(" ", "").rstrip("=").upper(), digits=6, interval=STEP)


def _user(probe: Probe, kind: str, what: str) -> tuple[str, str]:
    """The `kind` ('mfa', 'expired') user's name and password, or Skipped naming the options that give them."""
    options = probe.options
    username, password = getattr(options, f"{kind}_username"), getattr(options, f"{kind}_password")
    if not username or not password:
        needed = options.needed(f"{kind}_username"), options.needed(f"{kind}_password")
        raise Skipped(f"needs {what}: pass {needed[0]} and {needed[1]}")
    return username, password


# -- one-time codes ------------------------------------------------------------------


def _mfa_token(probe: Probe, *, checking: bool = False) -> str:
    """The mfa_token of a correct password for the MFA user (`checking`: fail, not skip, without one)."""
    username, password = _user(probe, "mfa", "a user asked for a one-time code")
    answer = probe.login(username=username, password=password)
    token = answer.field("mfa_token")
    if answer.status == 403 and answer.field("error") == "mfa_required" and isinstance(token, str) and token:
        if answer.field("access_token"):
            raise Failed("the 403 mfa_required answer carries an access_token: the code would protect nothing",
                         answer)
        return token
    if not checking:
        raise Skipped(f"needs a 403 mfa_required answer, but logging in gave {answer.answer()} (see mfa_required)")
    if as_login(answer) is not None:
        raise Failed(f"{username} logged in with its password alone: no one-time code was asked for", answer)
    raise Failed(f"logging in as {username} gave {answer.answer()}, not 403 mfa_required with an mfa_token "
                 f"(are {probe.options.option('mfa_username', username)} and its password right?)", answer)


def _generator(probe: Probe) -> pyotp.TOTP:
    secret = probe.options.totp_secret
    if not secret:
        raise Skipped(f"needs the user's TOTP secret: pass {probe.options.needed('totp_secret')}")
    return totp(secret)


def _send_code(probe: Probe, mfa_token: str, code: str) -> Exchange:
    return probe.send("mfa", fields=[("mfa_token", mfa_token), ("code", code)])


def _code_accepted(probe: Probe) -> tuple[str, int, Exchange]:
    """The right code, sent with a fresh mfa_token, and accepted: (code, its step, the answer).

    Sent early enough in its step for a replay to fall in the same one, and in a step
    whose code this run has not used yet (each is taken once)."""
    generator = _generator(probe)
    used = probe.session.memo.setdefault("totp steps used", set())
    for attempt in range(2):  # a second time in the next step: another run may have used this one's code
        mfa_token = _mfa_token(probe)
        now = time.time()
        while now % STEP > STEP - MARGIN or int(now // STEP) in used:
            time.sleep(STEP - now % STEP + 0.2)
            now = time.time()
        step = int(now // STEP)
        code = generator.at(now)
        used.add(step)
        answer = _send_code(probe, mfa_token, code)
        if as_login(answer) is not None or answer.status != 401 or attempt:
            break
    if as_login(answer) is None:
        failure = Failed(
            f"the right one-time code (TOTP at this machine's clock) gave {answer.answer()}, not 200 with an "
            "access_token (is the TOTP secret the user's, and the target's clock within 30 s of this one?)", answer
        )
        probe.session.memo["mfa code refused"] = failure.reason
        raise failure
    probe.session.memo["mfa code"] = (code, step)
    return code, step, answer


def check_mfa_required(probe: Probe) -> None:
    _mfa_token(probe, checking=True)


def check_wrong_code(probe: Probe) -> None:
    generator = _generator(probe)
    mfa_token = _mfa_token(probe)
    now = time.time()
    near = [generator.at(now + offset * STEP) for offset in range(-2, 3)]  # any code a window may take
    wrong = next(code for code in (f"{(int(near[2]) + n) % 10**6:06d}" for n in range(500_000, 500_010))
                 if code not in near)
    answer = _send_code(probe, mfa_token, wrong)
    user = probe.options.mfa_username
    probe.session.changed(
        f"{user}: one wrong one-time code sent (mfa_wrong_code_refused): a step toward a lockout where the "
        "deployment has one; the right code sent after it resets the count on the mock"
    )
    if as_login(answer) is not None or answer.status is None or not 400 <= answer.status < 500:
        raise Failed(f"a wrong one-time code got {answer.answer()}; it must be refused", answer)
    if answer.status != 401 or answer.field("error") != "invalid_mfa_code":
        raise Failed(f"a wrong one-time code got {answer.answer()}; openapi.yaml says 401 invalid_mfa_code", answer)


def check_code_gives_tokens(probe: Probe) -> None:
    _code_accepted(probe)


def check_replay(probe: Probe) -> None:
    for _ in range(2):  # once more if the step ended between the first use and the replay
        earlier = probe.session.memo.get("mfa code")
        refused = probe.session.memo.get("mfa code refused")
        if earlier is None and refused:  # trying again would wait up to 30 s for the next step to learn nothing new
            raise Skipped(f"needs the right code accepted first (see mfa_code_gives_tokens), but {refused}")
        if earlier is None or int(time.time() // STEP) != earlier[1] or time.time() % STEP > STEP - 2:
            try:
                earlier = _code_accepted(probe)[:2]
            except Failed as failure:
                raise Skipped(f"needs the right code accepted first, but {failure.reason}") from None
        code, step = earlier
        mfa_token = _mfa_token(probe)
        again = _send_code(probe, mfa_token, code)
        if int(time.time() // STEP) != step:
            probe.session.memo.pop("mfa code", None)
            continue
        probe.session.changed(f"{probe.options.mfa_username}: one one-time code sent twice (mfa_code_replay_refused)")
        if as_login(again) is not None:
            raise Failed("a one-time code used once was accepted again in the same 30 s step (RFC 6238 5.2: "
                         "the verifier must not accept the second attempt)", again)
        if again.status != 401 or again.field("error") != "invalid_mfa_code":
            raise Failed(f"a replayed one-time code got {again.answer()}; openapi.yaml says 401 invalid_mfa_code",
                         again)
        return
    raise Skipped("the code's step ended before its replay, twice: the target answers too slowly for the test")


# -- expired passwords -----------------------------------------------------------------


def _new_password(probe: Probe) -> str:
    if not probe.options.new_password:
        needed = probe.options.needed("new_password")
        raise Skipped(f"needs a new password the deployment's policy allows: pass {needed}")
    return probe.options.new_password


def _change_token(probe: Probe, *, checking: bool = False) -> str:
    """The change_token of the expired user's correct password (`checking`: fail, not skip, without one)."""
    username, password = _user(probe, "expired", "a user whose password has expired")
    if probe.session.memo.get("password changed") is not None:
        raise Skipped("the password was already changed by this run (see the checks before)")
    answer = probe.login(username=username, password=password)
    token = answer.field("change_token")
    if answer.status == 403 and answer.field("error") == "password_expired" and isinstance(token, str) and token:
        if answer.field("access_token"):
            raise Failed("the 403 password_expired answer carries an access_token", answer)
        return token
    if not checking:
        raise Skipped(f"needs a 403 password_expired answer, but logging in gave {answer.answer()} "
                      "(see password_expired)")
    if as_login(answer) is not None:
        raise Failed(f"{username} logged in with its expired password: no new password was asked for", answer)
    new = probe.options.new_password
    if answer.status == 401 and new and as_login(probe.login(username=username, password=new)) is not None:
        raise Skipped(
            f"{username} already has the new password (an earlier run changed it): set it expired again "
            "before the next run (on the mock: POST /_mockauth/reset)"
        )
    raise Failed(f"logging in as {username} gave {answer.answer()}, not 403 password_expired with a change_token "
                 f"(are {probe.options.option('expired_username', username)} and its password right?)", answer)


def _change(probe: Probe, password: str) -> Exchange:
    answer = probe.send("password", fields=[("change_token", _change_token(probe)), ("new_password", password)])
    if as_login(answer) is not None or (answer.status == 403 and answer.field("error") == "mfa_required"):
        probe.session.memo["password changed"] = password
        what = "the new password given" if password == probe.options.new_password else repr(password)
        probe.session.changed(
            f"{probe.options.expired_username}: its password is now {what} and no longer expired: set it expired "
            "again before the next run (on the mock: POST /_mockauth/reset)"
        )
    return answer


def check_password_expired(probe: Probe) -> None:
    _change_token(probe, checking=True)


def check_weak_password(probe: Probe) -> None:
    answer = _change(probe, WEAK_PASSWORD)
    if as_login(answer) is not None:
        raise Failed(f"the one-character new password {WEAK_PASSWORD!r} was accepted; a password policy must refuse "
                     "it (and the user's password is now that)", answer)
    if answer.status != 400 or answer.field("error") != "weak_password":
        raise Failed(f"a one-character new password got {answer.answer()}; openapi.yaml says 400 weak_password",
                     answer)


def _changed(probe: Probe) -> Exchange:
    answer = _change(probe, _new_password(probe))
    if as_login(answer) is None and not (answer.status == 403 and answer.field("error") == "mfa_required"):
        raise Failed(f"changing the expired password gave {answer.answer()}, not 200 with tokens", answer)
    return answer


def check_change_gives_tokens(probe: Probe) -> None:
    _changed(probe)


def check_old_password_refused(probe: Probe) -> None:
    username, old = _user(probe, "expired", "a user whose password has expired")
    new = _new_password(probe)
    changed = probe.session.memo.get("password changed")
    if changed is None:
        _changed(probe)
    elif changed != new:
        raise Skipped(f"the password was changed to {changed!r}, not the new one (see weak_password_refused)")
    before = probe.login(username=username, password=old)
    probe.session.changed(f"{username}: its old password tried once after the change (old_password_refused)")
    if as_login(before) is not None or before.status != 401:
        raise Failed(f"the old password after the change got {before.answer()}; it must be refused with 401", before)
    after = probe.login(username=username, password=new)
    if as_login(after) is None and not (after.status == 403 and after.field("error") == "mfa_required"):
        raise Failed(f"the new password after the change got {after.answer()}; it must log in", before, after)


MFA = ("login", "mfa")
PASSWORD = ("login", "password")

CHALLENGE = CheckTable("challenge", "challenge checks", (
    Check("mfa_required", "a correct password of a user with a one-time code gets 403 mfa_required, an "
          "mfa_token and no tokens", check_mfa_required, needs=MFA),
    Check("mfa_wrong_code_refused", "a wrong one-time code gets 401 invalid_mfa_code", check_wrong_code, needs=MFA),
    Check("mfa_code_gives_tokens", "the right one-time code (TOTP at this machine's clock) gives tokens",
          check_code_gives_tokens, needs=MFA),
    Check("mfa_code_replay_refused", "a one-time code used once gets 401 invalid_mfa_code the second time",
          check_replay, needs=MFA),
    Check("password_expired", "a correct but expired password gets 403 password_expired, a change_token and no "
          "tokens", check_password_expired, needs=PASSWORD),
    Check("weak_password_refused", "a one-character new password gets 400 weak_password", check_weak_password,
          needs=PASSWORD),
    Check("password_change_gives_tokens", "a new password the policy allows gives tokens (and stays: see the "
          "report's changes)", check_change_gives_tokens, needs=PASSWORD),
    Check("old_password_refused", "after the change the old password gets 401 and the new one logs in",
          check_old_password_refused, needs=PASSWORD),
), in_order=True)
