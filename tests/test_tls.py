"""HTTPS: mockauth's local CA, `mockauth serve --tls` on Werkzeug and on gunicorn workers,
on both stores, reached by curl, requests, httpx, urllib and Node with the CA the banner
prints, and what a client that speaks plain HTTP, garbage or nothing at all gets."""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import PASSWORD, USER
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from frontend_support import Served, mockauth_serve, wait_for

from mockauth import ConfigError, MockAuth, Settings
from mockauth._doors import tls as tls_module
from mockauth._doors.live import Server
from mockauth._doors.tls import data_dir, local_ca, server_names, server_tls

FORM = {"username": USER, "password": PASSWORD}
MOCKAUTH = str(Path(sys.executable).with_name("mockauth"))


def peer_certificate(url: str, ca: str, hostname: str = "localhost") -> x509.Certificate:
    """The certificate the server at `url` presents, verified against `ca` for `hostname`."""
    port = int(url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, context.wrap_socket(
        raw, server_hostname=hostname
    ) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def raw_exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes on a plain TCP connection and read until the server closes it."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        while chunk := sock.recv(65536):
            received += chunk
    return received


# -- the local certificate authority ---------------------------------------------------


def test_the_ca_is_made_once_and_kept_private(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "mockauth"
    first = local_ca(folder)
    again = local_ca(folder)
    assert first.cert_path.read_bytes() == again.cert_path.read_bytes()
    assert again.certificate == first.certificate
    assert stat.S_IMODE(first.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    certificate = first.certificate
    assert certificate.issuer == certificate.subject
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc > datetime.timedelta(days=3600)
    assert "mockauth" in certificate.subject.rfc4514_string()


def test_the_data_folder_is_the_platforms_unless_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOCKAUTH_DATA_DIR", str(tmp_path / "override"))
    assert data_dir() == tmp_path / "override"
    monkeypatch.delenv("MOCKAUTH_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "mockauth"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    assert data_dir() == tmp_path / ".local" / "share" / "mockauth"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert data_dir() == tmp_path / "Library" / "Application Support" / "mockauth"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert data_dir() == tmp_path / "Local" / "mockauth"


def test_processes_making_the_ca_at_the_same_moment_end_with_one(tmp_path: Path) -> None:
    folder = tmp_path / "race"
    script = "from pathlib import Path; import sys; from mockauth._doors.tls import local_ca; print(local_ca(Path(sys.argv[1])).cert_path.read_text(), end='')"
    children = [
        subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    printed = {child.communicate(timeout=60)[0] for child in children}
    assert len(printed) == 1
    ca = local_ca(folder)
    assert printed == {ca.cert_path.read_text()}  # and its key is the one beside it (checked on load)
    assert sorted(p.name for p in folder.iterdir()) == ["mockauth-ca-key.pem", "mockauth-ca.pem"]


def test_a_key_left_without_its_certificate_is_certified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = local_ca(tmp_path / "first")
    folder = tmp_path / "orphan"
    folder.mkdir()
    shutil.copy(made.key_path, folder / "mockauth-ca-key.pem")  # a process died before the certificate
    monkeypatch.setattr(tls_module, "CA_WAIT", 0.1)
    ca = local_ca(folder)
    assert ca.key_path.read_bytes() == made.key_path.read_bytes()
    assert ca.cert_path.exists()


def test_an_expired_ca_is_one_error_naming_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tls_module, "CA_LIFETIME", datetime.timedelta(minutes=-30))
    with pytest.raises(ConfigError, match=r"mockauth-ca.pem: expired on .*delete .*mockauth-ca.pem and .*mockauth-ca-key.pem"):
        local_ca(tmp_path)


# -- the server certificate ------------------------------------------------------------


def test_a_server_certificate_is_short_lived_and_names_this_machine(tmp_path: Path) -> None:
    tls = server_tls(Settings(tls=True), "127.0.0.1", ca_dir=tmp_path)
    assert tls is not None
    try:
        certificate = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
        ca = local_ca(tmp_path)
        assert certificate.issuer == ca.certificate.subject
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == ["localhost"]
        assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
        assert certificate.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc) <= datetime.timedelta(days=7)
        assert stat.S_IMODE(tls.key_file.stat().st_mode) == 0o600
        assert tls.ca_bundle == str(ca.cert_path)
    finally:
        tls.close()
    assert not tls.cert_file.parent.exists()


def test_the_host_given_is_named_too() -> None:
    assert server_names("auth.dev.test") == ["localhost", "127.0.0.1", "::1", "auth.dev.test"]
    assert server_names("[::1]") == ["localhost", "127.0.0.1", "::1"]
    assert server_names("0.0.0.0")[-1] == socket.gethostname()


def test_the_certificate_is_renewed_before_it_expires() -> None:
    auth = MockAuth.from_fixtures(tls=True)
    with auth.serve() as server:
        assert server.ca_bundle is not None and server.tls is not None
        first = peer_certificate(server.url, server.ca_bundle)
        server.tls.renew_at = 0  # as if a day were left
        second = peer_certificate(server.url, server.ca_bundle)
        third = peer_certificate(server.url, server.ca_bundle)
    assert first.serial_number != second.serial_number == third.serial_number


# -- the library's live server, on both stores -----------------------------------------

STORES = ("memory", "redis")


@pytest.fixture
def secure(state: str, request: pytest.FixtureRequest) -> Iterator[MockAuth]:
    if state == "memory":
        yield MockAuth.from_fixtures(tls=True, read_timeout=1)
        return
    redis = request.getfixturevalue("redis_url")
    auth = MockAuth.from_fixtures(tls=True, read_timeout=1, state=redis, state_namespace=f"tls-{uuid.uuid4().hex[:8]}")
    yield auth
    auth.stores.close()


def test_serve_over_https_from_python(secure: MockAuth) -> None:
    with secure.serve() as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.ca_bundle == str(local_ca().cert_path)
        for url in (server.url, server.url.replace("127.0.0.1", "localhost")):
            login = requests.post(url + "/auth/login", data=FORM, verify=server.ca_bundle, timeout=10)
            assert login.status_code == 200
            discovery = requests.get(url + "/.well-known/openid-configuration", verify=server.ca_bundle, timeout=10)
            assert discovery.json()["jwks_uri"] == url + "/.well-known/jwks.json"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url + "/health", timeout=10)  # the system CAs alone do not know it
    secure.journal.assert_called("login", user=USER, times=2)


def test_a_silent_client_holds_up_no_one(secure: MockAuth) -> None:
    """The handshake runs in the connection's own thread, with the read timeout: a client
    that connects and says nothing neither blocks the next one nor stays forever."""
    with secure.serve() as server, socket.create_connection(("127.0.0.1", server.port), timeout=15) as silent:
        assert server.ca_bundle is not None
        health = requests.get(server.url + "/health", verify=server.ca_bundle, timeout=10)
        assert health.status_code == 200
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the server, after read_timeout (1 s)
        assert time.monotonic() - started < 12


# -- mockauth serve --tls, as users run it: both servers, both stores --------------------

SERVERS = {
    "werkzeug-memory": ("--tls",),
    "werkzeug-redis": ("--tls", "--state", "{redis}"),
    "gunicorn-redis": ("--tls", "--workers", "2", "--state", "{redis}"),
    "gunicorn-memory": ("--tls", "--workers", "1"),
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    args = list(SERVERS[request.param])
    if "{redis}" in args:
        args[args.index("{redis}")] = request.getfixturevalue("redis_url")
        args += ["--state-namespace", f"tls-{uuid.uuid4().hex[:8]}"]
    if "--workers" in args and shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("gunicorn is not installed (pip install 'mockauth[server]')")
    with mockauth_serve(*args) as served:
        wait_for(lambda: "dashboard:" in "".join(served.stdout), "the banner")
        yield served
    assert "Traceback" not in served.output()


def printed_ca(served: Served) -> str:
    found = re.search(r"CA certificate to trust .*: (\S+)", "".join(served.stdout))
    assert found, served.output()
    return found.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_the_ca_the_banner_prints(served: Served) -> None:
    line = re.search(r"curl:\s+(curl --cacert .*)", "".join(served.stdout))
    assert line, served.output()
    health = subprocess.run(shlex.split(line.group(1)), capture_output=True, text=True, timeout=30)
    assert health.returncode == 0, health.stderr
    assert json.loads(health.stdout) == {"status": "ok"}
    # The original document's example, over HTTPS and by name (curl checks the name).
    url = served.url.replace("127.0.0.1", "localhost")
    login = subprocess.run(
        ["curl", "-s", "--cacert", printed_ca(served), "-X", "POST", f"{url}/auth/login",
         "-d", "username=user@example.com", "-d", "password=secretpassword"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    assert json.loads(login.stdout)["token_type"] == "bearer"
    refused = subprocess.run(["curl", "-s", f"{url}/health"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 60  # curl: the peer's certificate cannot be verified


def test_requests_full_flow_with_hostname_checks(served: Served) -> None:
    ca = printed_ca(served)
    url = served.url.replace("127.0.0.1", "localhost")
    tokens = requests.post(url + "/auth/login", data=FORM, verify=ca, timeout=10).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(url + "/auth/me", headers=bearer, verify=ca, timeout=10).json()["sub"] == USER
    refreshed = requests.post(url + "/auth/refresh", data={"refresh_token": tokens["refresh_token"]}, verify=ca, timeout=10)
    assert refreshed.status_code == 200
    if "--workers 2" in " ".join(served.process.args):  # type: ignore[arg-type]
        return  # per-connection workers on one store: logout is checked on the others
    assert requests.post(url + "/auth/logout", headers=bearer, verify=ca, timeout=10).status_code == 204
    assert requests.get(url + "/auth/me", headers=bearer, verify=ca, timeout=10).status_code == 401


def test_a_name_the_certificate_does_not_carry_is_refused(served: Served) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn.t match"):
        peer_certificate(served.url, printed_ca(served), hostname="auth.example.test")
    for name in ("localhost", "127.0.0.1", "::1"):
        assert peer_certificate(served.url, printed_ca(served), hostname=name).issuer.rfc4514_string()


def test_plain_http_gets_a_clear_answer_never_a_traceback(served: Served) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    body = b"username=user%40example.com&password=secretpassword"
    answer = raw_exchange(
        port,
        b"POST /auth/login HTTP/1.1\r\nHost: localhost:%d\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (port, len(body), body),
    )
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/json" in head
    error = json.loads(payload)
    assert error["error"] == "invalid_request"
    assert f"use https://localhost:{port}/auth/login" in error["error_description"]
    # Garbage that is not HTTP either, and bytes that start like TLS and are not: closed.
    assert raw_exchange(port, b"\x00\x01\x02 nonsense\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    not_tls = raw_exchange(port, b"\x16\x03\x01\x00\x05hello")
    assert not_tls == b"" or not_tls[:2] + not_tls[5:6] == b"\x15\x03\x02"  # nothing, or a fatal TLS alert
    health = requests.get(served.url + "/health", verify=printed_ca(served), timeout=10)
    assert health.status_code == 200  # and the server goes on
    wait_for(lambda: "plain HTTP from 127.0.0.1 on the HTTPS port" in served.output(), "the log line")


def test_disconnect_mode_over_tls(served: Served) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(
            served.url + "/health", headers={"X-Mockauth-Mode": "disconnect"}, verify=printed_ca(served), timeout=10
        )
    assert requests.get(served.url + "/health", verify=printed_ca(served), timeout=10).status_code == 200


CLIENTS = """
import json, os, sys, urllib.request
import httpx, requests
url = sys.argv[1]
print(json.dumps({
    "urllib": json.load(urllib.request.urlopen(url + "/health", timeout=10)),
    "httpx": httpx.get(url + "/health").json(),
    "requests": requests.get(url + "/health", timeout=10).json(),
}))
"""


def test_the_environment_variables_the_banner_prints(served: Served) -> None:
    ca = printed_ca(served)
    url = served.url.replace("127.0.0.1", "localhost")
    env = {**os.environ, "SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca}
    python = subprocess.run([sys.executable, "-c", CLIENTS, url], capture_output=True, text=True, timeout=60, env=env)
    assert python.returncode == 0, python.stderr
    assert json.loads(python.stdout) == {name: {"status": "ok"} for name in ("urllib", "httpx", "requests")}
    node = shutil.which("node")
    if node is None:
        return
    script = "fetch(process.argv[1] + '/health').then(r => r.json()).then(b => console.log(JSON.stringify(b)))"
    fetched = subprocess.run(
        [node, "-e", script, url], capture_output=True, text=True, timeout=60,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": ca},
    )
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout) == {"status": "ok"}


# -- the command line ------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MOCKAUTH, *args], capture_output=True, text=True, timeout=60)


def test_tls_path_and_trust() -> None:
    path = run("tls", "path")
    assert path.returncode == 0
    ca = path.stdout.strip()
    assert ca == str(local_ca().cert_path) and Path(ca).is_file()
    trust = run("tls", "trust")
    assert trust.returncode == 0
    for words in (f"curl --cacert {ca}", f"REQUESTS_CA_BUNDLE={ca}", f"SSL_CERT_FILE={ca}",
                  f"NODE_EXTRA_CA_CERTS={ca}", f"-i {ca}"):
        assert words in trust.stdout
    bare = run("tls")
    assert bare.returncode == 2 and "name an action: trust or path" in bare.stderr


@pytest.fixture(scope="module")
def own_certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Certificates from a CA of your own: valid, expired, for another key, not PEM."""
    folder = tmp_path_factory.mktemp("own")
    yours = local_ca(folder / "ca")
    files = {"ca": yours.cert_path}

    def write(name: str, pem: tuple[bytes, bytes]) -> None:
        (folder / f"{name}.pem").write_bytes(pem[0])
        (folder / f"{name}-key.pem").write_bytes(pem[1])
        files[name], files[f"{name}-key"] = folder / f"{name}.pem", folder / f"{name}-key.pem"

    write("valid", yours.issue(["localhost", "127.0.0.1"]))
    write("expired", yours.issue(["localhost"], lifetime=datetime.timedelta(minutes=-5)))
    write("other", yours.issue(["localhost"]))
    key = serialization.load_pem_private_key(files["other-key"].read_bytes(), password=None)
    files["encrypted"] = folder / "encrypted-key.pem"
    files["encrypted"].write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    ))
    files["not-pem"] = folder / "not-pem.pem"
    files["not-pem"].write_text("this is not a certificate\n")
    return files


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        ("expired", "expired-key", r"setting 'tls_cert': \S+expired.pem: expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC"),
        ("missing", "valid-key", r"setting 'tls_cert': \S+missing.pem: cannot read: No such file or directory"),
        ("not-pem", "valid-key", r"setting 'tls_cert': \S+not-pem.pem: not a PEM certificate"),
        ("valid", "other-key", r"setting 'tls_key': \S+other-key.pem is not the key of the certificate \S+valid.pem"),
        ("valid", "not-pem", r"setting 'tls_key': \S+not-pem.pem: not an unencrypted PEM private key"),
        ("valid", "folder", r"setting 'tls_key': \S+: cannot read: Is a directory"),
        ("other", "encrypted", r"setting 'tls_key': \S+encrypted-key.pem: the key is encrypted; mockauth needs it unencrypted"),
    ],
)
def test_a_bad_certificate_or_key_is_one_line_and_exit_2(
    own_certificates: dict[str, Path], cert: str, key: str, message: str
) -> None:
    folder = own_certificates["ca"].parent.parent

    def path(name: str) -> str:
        return str(own_certificates.get(name, folder if name == "folder" else folder / f"{name}.pem"))

    result = run("serve", "--port", "0", "--tls-cert", path(cert), "--tls-key", path(key))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(r"mockauth serve: error: " + message, lines[0]), lines[0]


def test_a_certificate_without_its_key_is_a_usage_error(own_certificates: dict[str, Path]) -> None:
    result = run("serve", "--port", "0", "--tls-cert", str(own_certificates["valid"]))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mockauth serve: error: --tls-cert: setting 'tls_cert': needs tls_key too (the certificate and its key)"
    )


def test_your_own_certificate_is_served(own_certificates: dict[str, Path]) -> None:
    with mockauth_serve("--tls-cert", str(own_certificates["valid"]), "--tls-key", str(own_certificates["valid-key"])) as served:
        wait_for(lambda: "dashboard:" in "".join(served.stdout), "the banner")
        assert served.url.startswith("https://")
        assert f"HTTPS: your certificate {own_certificates['valid']}" in "".join(served.stdout)
        health = requests.get(served.url + "/health", verify=str(own_certificates["ca"]), timeout=10)
        assert health.status_code == 200
        presented = peer_certificate(served.url, str(own_certificates["ca"]))
        assert presented == x509.load_pem_x509_certificate(own_certificates["valid"].read_bytes())


def test_watch_with_tls(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  - {username: ann, password: annpassword}\n")
    with mockauth_serve("--tls", "--watch", "--fixtures", str(users)) as served:
        wait_for(lambda: "dashboard:" in "".join(served.stdout), "the banner")
        ca = printed_ca(served)
        users.write_text("users:\n  - {username: bob, password: bobpassword}\n")

        def bob_logs_in() -> bool:
            form = {"username": "bob", "password": "bobpassword"}
            return requests.post(served.url + "/auth/login", data=form, verify=ca, timeout=10).status_code == 200

        wait_for(bob_logs_in, "the edited fixtures to be served over HTTPS")


def test_serve_tls_flag_needs_no_value_and_takes_one() -> None:
    from mockauth._cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["serve", "--tls"]).tls == "true"
    assert parser.parse_args(["serve", "--tls", "false"]).tls == "false"
    assert parser.parse_args(["serve", "--mode-header", "off"]).mode_header == "off"


def test_handshakes_from_many_clients_at_once() -> None:
    """Forty HTTPS requests at once through one Werkzeug server: each handshake in its
    own thread, every one answered."""
    auth = MockAuth.from_fixtures(tls=True)
    with auth.serve() as server:
        ca = server.ca_bundle

        def health(_: int) -> int:
            return requests.get(server.url + "/health", verify=ca, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            assert list(pool.map(health, range(40))) == [200] * 40
    assert auth.journal.count("health") == 40


def test_without_tls_the_server_speaks_plain_http() -> None:
    auth = MockAuth.from_fixtures()
    with Server(auth.app) as server:
        assert server.url.startswith("http://") and server.ca_bundle is None
        assert requests.get(server.url + "/health", timeout=10).json() == {"status": "ok"}
