"""The mockauth command, run as a user runs it: a subprocess."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jwt
import pytest
import requests
from conftest import end_process, free_port, rfc6238

from mockauth import Settings, __version__
from mockauth._cli import build_parser
from mockauth._cli.common import DEFAULT_PORT
from mockauth._settings import DEFAULT_SECRET

MOCKAUTH = str(Path(sys.executable).with_name("mockauth"))


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MOCKAUTH, *args], capture_output=True, text=True, timeout=timeout)


@contextmanager
def serving(*args: str, cwd: Path | None = None) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """`mockauth serve ARGS` in a subprocess; yields it, its URL and its banner once it
    listens. Its pipes are closed on the way out, whatever happened."""
    process = subprocess.Popen(
        [MOCKAUTH, "serve", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"serving (https?://\S+)", banner)
        if not match:
            end_process(process)
            raise AssertionError(banner + process.communicate(timeout=10)[1])
        while "dashboard:" not in banner.splitlines()[-1]:
            banner += process.stdout.readline()
        yield process, match.group(1), banner
    finally:
        end_process(process)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def stop(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[str, str]:
    process.send_signal(sig)
    out, err = process.communicate(timeout=15)
    return out, err


def test_serve_as_readme_says_then_ctrl_c() -> None:
    port = free_port()  # the README's 8765 may be taken by a `mockauth serve` running here
    with serving("--port", str(port)) as (process, url, banner):
        assert url == f"http://127.0.0.1:{port}"
        answer = requests.post(url + "/auth/login", data={"username": "user@example.com", "password": "secretpassword"}, timeout=10)
        assert answer.status_code == 200
        jwt.decode(answer.json()["access_token"], DEFAULT_SECRET, algorithms=["HS256"], audience="mockauth")
        out, err = stop(process)
    assert process.returncode == 0
    assert "user@example.com" in banner and "admin" in banner  # the users it loaded
    assert "mockauth: stopped" in out
    assert "Traceback" not in err and "Traceback" not in out
    assert "POST /auth/login" in err  # the request log
    assert "\x1b[" not in err  # no colour codes into a pipe
    assert "secretpassword" not in banner + out + err
    assert "users (7):" in banner


def test_the_default_port_is_the_readmes() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    assert serve.get_default("port") == 8765 == DEFAULT_PORT


def test_serve_stops_on_sigterm() -> None:
    with serving("--port", "0") as (process, _, _):
        _, err = stop(process, signal.SIGTERM)
    assert process.returncode == 0 and "Traceback" not in err


def test_serve_from_any_directory_with_modes_and_settings(tmp_path: Path) -> None:
    args = ["--port", "0", "--mode", "unavailable:operation=login:times=2", "--access-token-lifetime", "60", "--algorithm", "ES256"]
    with serving(*args, cwd=tmp_path) as (process, url, banner):
        assert "armed: unavailable (operation=login, times=2, retry_after=30)" in banner  # no raw dict
        login = {"username": "user@example.com", "password": "secretpassword"}
        statuses = [requests.post(url + "/auth/login", data=login, timeout=10).status_code for _ in range(3)]
        assert statuses == [503, 503, 200]
        body = requests.post(url + "/auth/login", data=login, timeout=10).json()
        assert body["expires_in"] == 60
        assert jwt.get_unverified_header(body["access_token"])["alg"] == "ES256"
        stop(process)
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["serve", "--port", "x"], "--port"),
        (["serve", "--port", "99999"], "argument --port: expected a port from 0 to 65535"),
        (["serve", "--port", "-1"], "argument --port: expected a port from 0 to 65535"),
        (["serve", "--port", "0", "--host", "nowhere.invalid", "--algorithm", "RS256"], "--host nowhere.invalid: does not"),
        (["serve", "--bogus"], "--bogus"),
        (["serve", "--algorithm", "XX256"], "algorithm"),
        (["serve", "--access-token-lifetime", "soon"], "--access-token-lifetime"),
        (["serve", "--secret", "short"], "secret"),
        (["serve", "--mode-header", "maybe"], "--mode-header"),
        (["serve", "--fixtures", "/no/such/place"], "/no/such/place"),
        (["serve", "--mode", "explode"], "--mode explode"),
        (["serve", "--mode", "slow:times=0"], "times"),
        (["token", "nobody@example.com"], "nobody@example.com"),
        (["totp", "nobody@example.com"], "nobody@example.com"),
        (["totp", "mfa@example.com", "--server", "http://127.0.0.1:9"], "--server http://127.0.0.1:9: no answer"),
        (["totp", "mfa@example.com", "--server", "notaurl"], "--server notaurl: expected the mock's http://"),
        (["totp", "mfa@example.com", "--server", "http://[::1"], "--server http://[::1: expected"),
        (["serve", "--password-policy", "min_length=twelve"], "--password-policy"),
        (["serve", "--password-policy", "colour=1"], "unknown rule 'colour'"),
        (["check", "/no/such/file.yaml"], "/no/such/file.yaml"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], words: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stderr


def test_port_in_use_is_one_line_and_exit_2() -> None:
    with serving("--port", "0") as (process, url, _):
        port = url.rsplit(":", 1)[1]
        result = run("serve", "--port", port)
        stop(process)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_token_prints_a_valid_token() -> None:
    result = run("token", "user@example.com")
    assert result.returncode == 0
    claims = jwt.decode(result.stdout.strip(), DEFAULT_SECRET, algorithms=["HS256"], audience="mockauth")
    assert claims["sub"] == "user@example.com"
    by_email = run("token", "admin@example.com", "--expires-in", "-10")
    claims = jwt.decode(by_email.stdout.strip(), options={"verify_signature": False})
    assert claims["sub"] == "admin" and claims["exp"] < time.time()


def test_totp_prints_the_code_from_the_fixtures_or_a_running_mock() -> None:
    secret = base64.b32decode("JBSWY3DPEHPK3PXP")
    before = rfc6238(secret, time.time())
    result = run("totp", "mfa@example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in {before, rfc6238(secret, time.time())}  # a step may turn meanwhile
    assert run("totp", "user@example.com").stdout.strip() == "123456"  # no mfa: the development code
    with serving("--port", "0", "--mode", "mfa_required:user=user@example.com") as (process, url, _):
        form = {"username": "user@example.com", "password": "secretpassword"}
        challenge = requests.post(url + "/auth/login", data=form, timeout=10).json()
        assert challenge["error"] == "mfa_required"
        code = run("totp", "user@example.com", "--server", url).stdout.strip()
        done = requests.post(url + "/auth/mfa", data={"mfa_token": challenge["mfa_token"], "code": code}, timeout=10)
        assert done.status_code == 200
        # --server reads the running mock's clock: a day ahead here, so another code.
        requests.post(url + "/_mockauth/clock", json={"action": "freeze", "at": 1_900_000_000}, timeout=10)
        remote = run("totp", "mfa@example.com", "--server", url)
        assert remote.stdout.strip() == rfc6238(secret, 1_900_000_000), remote.stderr
        form["username"] = "mfa@example.com"
        challenge = requests.post(url + "/auth/login", data=form, timeout=10).json()
        done = requests.post(url + "/auth/mfa", data={"mfa_token": challenge["mfa_token"], "code": remote.stdout.strip()}, timeout=10)
        assert done.status_code == 200
        unknown = run("totp", "nobody", "--server", url)
        stop(process)
    assert unknown.returncode == 2 and "'nobody': not on the mock at" in unknown.stderr


def test_totp_asks_a_mock_serving_https_trusting_its_local_ca() -> None:
    with serving("--port", "0", "--tls") as (process, url, _):
        remote = run("totp", "user@example.com", "--server", url)
        stop(process)
    assert url.startswith("https://")
    assert (remote.returncode, remote.stdout.strip()) == (0, "123456"), remote.stderr


def test_the_readme_challenge_lines_work_as_pasted() -> None:
    if not shutil.which("curl"):
        if os.environ.get("CI"):
            pytest.fail("curl is missing")
        pytest.skip("no curl on PATH")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Challenges: one-time codes and expired passwords", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    # What each block prints, in order, against a fresh `mockauth serve`.
    expected = [('"error":"mfa_required"', 1), ('"access_token"', 1), ('"error":"password_expired"', 1),
                ('"access_token"', 2), ('"access_token"', 1)]
    assert len(blocks) == len(expected)
    # As after `pip install`: the mockauth command on PATH, the shell the reader has.
    env = {**os.environ, "PATH": f"{Path(MOCKAUTH).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with serving("--port", "0") as (process, url, _):
        for block, (words, count) in zip(blocks, expected, strict=True):
            script = "set -euo pipefail\n" + block.replace("http://127.0.0.1:8765", url)
            done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env=env)
            assert done.returncode == 0 and done.stdout.count(words) == count, (block, done.stdout, done.stderr)
        stop(process)


def test_check_good_and_bad_files(tmp_path: Path) -> None:
    good = run("check", "fixtures")
    assert good.returncode == 0 and "ok, 7 users" in good.stdout
    one = tmp_path / "one.yaml"
    one.write_text("users:\n  - {username: ann, password: pw}\n")
    assert run("check", str(one)).stdout.strip() == f"{one}: ok, 1 user (ann)"
    bad = tmp_path / "users.yaml"
    bad.write_text("users:\n  - username: ann\n    password: pw\n  - username: bob\n    claims: {}\n")
    result = run("check", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f"mockauth check: error: {bad}: users[1] (bob): password: required"


def test_check_reports_every_mistake_as_the_readme_shows() -> None:
    root = Path(__file__).resolve().parent.parent
    session = re.search(
        r"```\n\$ (mockauth check examples/fixtures/broken\.yaml)\n(.*?)```", (root / "README.md").read_text(), re.S
    )
    assert session, "README.md shows a `mockauth check` session on examples/fixtures/broken.yaml"
    done = subprocess.run([MOCKAUTH, *session.group(1).split()[1:]], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == session.group(2)
    assert len(done.stderr.splitlines()) == 4  # every mistake, not the first


def test_a_mistyped_flag_points_to_the_subcommands_help() -> None:
    for command in (["serve"], ["token", "admin"], ["check", "fixtures"], ["contract", "http://127.0.0.1:9"]):
        result = run(*command, "--bogus")
        assert result.returncode == 2
        assert result.stderr.strip().endswith(f"(see mockauth {command[0]} --help)"), result.stderr
        assert "--bogus" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_token_help_lists_only_what_changes_a_token() -> None:
    text = run("token", "--help").stdout
    for flag in ("--issuer", "--algorithm", "--secret", "--key-file", "--access-token-lifetime", "--state"):
        assert flag in text
    for flag in ("--cors-origins", "--max-body-size", "--journal-size", "--admin-token", "--read-timeout", "--allowed-hosts"):
        assert flag not in text


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"mockauth {__version__}"
    for command in ([], ["serve"], ["token"], ["check"]):
        result = run(*command, "--help")
        assert result.returncode == 0 and "usage: mockauth" in result.stdout
    # Defaults as the flags take them, each said once: not "(default: None)" after the
    # help's own, nor "True" for a flag that takes true.
    serve = " ".join(run("serve", "--help").stdout.split())
    assert "None" not in serve and "True" not in serve and "False" not in serve
    assert "(default: the URL the mock is reached at, or public_url) --audience" in serve
    assert "--tls [TLS] serve HTTPS with" in serve and "(default: false)" in serve


def test_serve_flags_are_the_settings_names() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    flags = {option for action in serve._actions for option in action.option_strings}
    assert {"--" + name.replace("_", "-") for name in Settings.names()} <= flags


def test_python_dash_m() -> None:
    result = subprocess.run([sys.executable, "-m", "mockauth", "--version"], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == f"mockauth {__version__}"


def test_serve_keeps_no_bug_for_a_check_that_never_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing calls check() on `mockauth serve`: a bug is logged and answered 500, and
    # keeping it too would let any client grow the server (a traceback a request).
    from mockauth import ServerError
    from mockauth._cli import serve as serve_module

    served = []

    class Refused:
        def __init__(self, app: object, *args: object, **kwargs: object) -> None:
            served.append(app)

        def start(self) -> None:
            raise ServerError("not started: the test has what it needs")

    monkeypatch.setattr("mockauth._doors.live.Server", Refused)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # run_serve's Ctrl-C handling stays out
    with pytest.raises(ServerError):
        serve_module.run_serve(build_parser().parse_args(["serve", "--port", "0"]))
    assert served and served[0].keep_errors is False


def test_the_readmes_python_log_in_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    from mockauth import MockAuth

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    snippet = re.search(r"```python\n(import jwt\nimport requests\n.*?)```", readme, re.S)
    assert snippet, "README.md's Log in section verifies a token from a real login"
    with MockAuth.from_fixtures().serve() as server:  # on a free port, not the README's 8765
        exec(snippet.group(1).replace("http://127.0.0.1:8765", server.url), {})
    assert capsys.readouterr().out == "user@example.com\n"


def test_the_readmes_python_section_runs_as_written() -> None:
    # It once used a client and a user that its own MockAuth(users=[ann]) does not have.
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md, ## Python", "exec"), namespace)  # every server it starts is on a free port
    assert "auth" in namespace
    assert namespace["r"].status_code == 200  # type: ignore[attr-defined]  # ann logged in over a socket
    namespace["http"].close()  # type: ignore[attr-defined]
