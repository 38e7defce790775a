"""The bad-input table (SECURITY.md, "Bad input"), over real sockets on 127.0.0.1.

Each row sends one malformed request, most of them as raw bytes that ``requests`` would
never produce, checks the documented status and JSON error, then checks that the server
still answers a good login.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from mockauth import MockAuth, Server

LIMIT = 65536  # the default max_body_size


@pytest.fixture(scope="module")
def auth() -> MockAuth:
    # A one-second read timeout keeps the slow-client rows short.
    return MockAuth.from_fixtures(read_timeout=1)


@pytest.fixture(scope="module")
def live(auth: MockAuth) -> Iterator[Server]:
    with auth.serve() as server:
        yield server


def exchange(
    server: Server, data: bytes, *, close_write: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return parse(received)


def parse(received: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return status, headers, body


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2 :]
    return out


def post(
    path: str, body: bytes, content_type: str = "application/x-www-form-urlencoded", extra: str = ""
) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def assert_error(
    answer: tuple[int, dict[str, str], bytes], status: int, error: str
) -> dict[str, str]:
    got_status, headers, body = answer
    assert got_status == status, body
    assert headers["content-type"].startswith("application/json")
    document = json.loads(body)
    assert document["error"] == error
    assert isinstance(document["error_description"], str)
    assert document["error_description"]
    return headers


def assert_still_serving(server: Server) -> None:
    response = requests.post(
        server.url + "/auth/login",
        data={"username": "user@example.com", "password": "secretpassword"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


@pytest.fixture(autouse=True)
def _still_serving_after(
    request: pytest.FixtureRequest, auth: MockAuth, live: Server
) -> Iterator[None]:
    yield
    assert_still_serving(live)
    errors, auth.app.errors[:] = list(auth.app.errors), []
    assert not errors, f"a request raised inside the app: {errors[0]!r}"


# -- bodies -----------------------------------------------------------------------------


def test_empty_form_body(live: Server) -> None:
    assert_error(exchange(live, post("/auth/login", b"")), 400, "invalid_request")


def test_empty_untyped_body(live: Server) -> None:
    raw = b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    assert_error(exchange(live, raw), 400, "invalid_request")


def test_huge_body_announced_by_content_length(live: Server, auth: MockAuth) -> None:
    # Only the headers are sent: the answer comes before any of the body is read.
    raw = (
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {LIMIT + 1}\r\n\r\n"
    ).encode()
    headers = assert_error(exchange(live, raw), 413, "request_too_large")
    assert headers["connection"] == "close"
    assert auth.journal.entries()[-1].status == 413


def _chunked(payload: bytes, piece: int = 8192) -> bytes:
    out = b""
    for start in range(0, len(payload), piece):
        chunk = payload[start : start + piece]
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    return out + b"0\r\n\r\n"


def _chunked_request(payload: bytes) -> bytes:
    return (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(payload)
    )


def test_huge_chunked_body_is_refused_not_truncated(live: Server) -> None:
    # Werkzeug's dev server would cut a chunked body at max_content_length and hand the
    # app a shorter, valid-looking body; mockauth reads one byte past the limit and refuses.
    payload = b"username=user%40example.com&password=secretpassword&pad=" + b"x" * LIMIT
    assert_error(exchange(live, _chunked_request(payload)), 413, "request_too_large")


def test_chunked_body_under_the_limit_is_read_whole(live: Server) -> None:
    payload = (
        b"pad=" + b"x" * (LIMIT - 200) + b"&username=user%40example.com&password=secretpassword"
    )
    status, _, body = exchange(live, _chunked_request(payload))
    assert status == 200, body
    assert json.loads(body)["token_type"] == "bearer"


def test_malformed_chunk_header(live: Server) -> None:
    raw = (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    )
    assert_error(exchange(live, raw), 400, "invalid_request")


def test_chunked_beside_content_length_reads_the_chunks(live: Server) -> None:
    # RFC 9112 6.3: Transfer-Encoding overrides Content-Length (and every connection
    # closes after one answer, so nothing can be smuggled behind it).
    payload = b"username=user%40example.com&password=secretpassword"
    raw = _chunked_request(payload).replace(
        b"Transfer-Encoding: chunked\r\n", b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"
    )
    status, headers, body = exchange(live, raw)
    assert status == 200, body
    assert headers["connection"] == "close"


@pytest.mark.parametrize("length", [b"-5", b"abc", b"1e3"])
def test_invalid_content_length_is_no_body(live: Server, length: bytes) -> None:
    raw = (
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + length + b"\r\n\r\n"
        b"username=user%40example.com&password=secretpassword"
    )
    assert_error(exchange(live, raw), 400, "invalid_request")


def test_non_utf8_form_body(live: Server) -> None:
    assert_error(
        exchange(live, post("/auth/login", b"username=\xff\xfe&password=x")), 400, "invalid_request"
    )


def test_non_utf8_json_body(live: Server) -> None:
    body = b'{"username": "\xff\xfe", "password": "x"}'
    assert_error(
        exchange(live, post("/auth/login", body, "application/json")), 400, "invalid_request"
    )


def test_nul_bytes_in_credentials_are_just_wrong_credentials(live: Server) -> None:
    body = b"username=user%40example.com%00&password=secretpassword%00"
    assert_error(exchange(live, post("/auth/login", body)), 401, "invalid_credentials")
    body = json.dumps({"username": "user@example.com\x00", "password": "secretpassword"}).encode()
    assert_error(
        exchange(live, post("/auth/login", body, "application/json")), 401, "invalid_credentials"
    )


def test_raw_nul_byte_in_json(live: Server) -> None:
    body = b'{"username": "user@example.com\x00", "password": "secretpassword"}'
    assert_error(
        exchange(live, post("/auth/login", body, "application/json")), 400, "invalid_request"
    )


def test_deeply_nested_json(live: Server) -> None:
    body = b'{"username": ' + b"[" * 30000 + b"]" * 30000 + b', "password": "x"}'
    assert len(body) < LIMIT
    assert_error(
        exchange(live, post("/auth/login", body, "application/json")), 400, "invalid_request"
    )


def test_duplicate_form_field(live: Server) -> None:
    body = b"username=user%40example.com&username=admin&password=secretpassword"
    assert_error(exchange(live, post("/auth/login", body)), 400, "invalid_request")


def test_duplicate_json_field(live: Server) -> None:
    body = b'{"username": "admin", "username": "user@example.com", "password": "secretpassword"}'
    assert_error(
        exchange(live, post("/auth/login", body, "application/json")), 400, "invalid_request"
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"username": 123, "password": "secretpassword"}',
        b'{"username": "user@example.com", "password": ["secretpassword"]}',
        b'{"username": null, "password": "secretpassword"}',
        b'["user@example.com", "secretpassword"]',
        b'"user@example.com"',
    ],
)
def test_wrong_json_types(live: Server, body: bytes) -> None:
    assert_error(
        exchange(live, post("/auth/login", body, "application/json")), 400, "invalid_request"
    )


def test_unsupported_media_type(live: Server) -> None:
    body = b"<login><username>user@example.com</username></login>"
    assert_error(
        exchange(live, post("/auth/login", body, "application/xml")), 415, "unsupported_media_type"
    )


# -- header injection -------------------------------------------------------------------


def test_crlf_in_username_never_reaches_a_header(live: Server, auth: MockAuth) -> None:
    evil = "user@example.com\r\nSet-Cookie: pwned=1\r\nX-Injected: yes"
    body = json.dumps({"username": evil, "password": "secretpassword"}).encode()
    status, headers, _ = exchange(live, post("/auth/login", body, "application/json"))
    assert status == 401
    assert "set-cookie" not in headers
    assert "x-injected" not in headers
    # A user whose name holds CR/LF is refused nowhere, and logs in without a header leak.
    auth.add_user({"username": evil, "password": "pw"})
    try:
        body = json.dumps({"username": evil, "password": "pw"}).encode()
        status, headers, raw = exchange(live, post("/auth/login", body, "application/json"))
        assert status == 200, raw
        assert "set-cookie" not in headers
        token = json.loads(raw)["access_token"]
        me = requests.get(
            live.url + "/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert me.json()["sub"] == evil
        assert "X-Injected" not in me.headers
    finally:
        auth.remove_user(evil)


def test_crlf_in_path(live: Server) -> None:
    raw = b"GET /_mockauth/users/x%0d%0aSet-Cookie:%20pwned=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    status, headers, _ = exchange(live, raw)
    assert status in (404, 405)
    assert "set-cookie" not in headers


# -- the transport: request line and headers ----------------------------------------------


def test_overlong_header_line(live: Server) -> None:
    raw = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n"
    assert_error(exchange(live, raw), 431, "request_header_fields_too_large")


def test_too_many_headers(live: Server) -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    raw = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + b"\r\n"
    assert_error(exchange(live, raw), 431, "request_header_fields_too_large")


def test_overlong_request_line(live: Server) -> None:
    raw = b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert_error(exchange(live, raw), 414, "uri_too_long")


def test_garbage_request_line(live: Server) -> None:
    assert_error(exchange(live, b"NOT AN HTTP REQUEST AT ALL\r\n\r\n"), 400, "invalid_request")


def test_unsupported_http_version(live: Server) -> None:
    assert_error(
        exchange(live, b"GET /health HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n"),
        505,
        "http_version_not_supported",
    )


# -- slow and vanishing clients -----------------------------------------------------------


def test_slow_body_gets_408_after_the_read_timeout(live: Server, auth: MockAuth) -> None:
    # Announce 40 bytes, send 10, then fall silent: after read_timeout (1 s here) the
    # server answers 408 and frees the thread. The socket's own timeout bounds the test.
    raw = post("/auth/login", b"x" * 40)[:-30]
    headers = assert_error(exchange(live, raw), 408, "request_timeout")
    assert headers["connection"] == "close"
    assert auth.journal.entries()[-1].status == 408


def test_slow_headers_are_cut_off(live: Server) -> None:
    # Slowloris: a request that never finishes its headers is closed without an answer.
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        # Closed by the server after its read timeout; were it not, our own 10 s
        # timeout would raise here instead.
        assert sock.recv(65536) == b""


def test_client_closing_mid_body(live: Server, auth: MockAuth) -> None:
    # The client sends half its body and shuts its side: the half body is refused, not
    # parsed, and the request is in the journal.
    before = auth.journal.total
    raw = post("/auth/login", b"username=user%40example.com&password=secretpassword")[:-20]
    headers = assert_error(exchange(live, raw, close_write=True), 400, "invalid_request")
    assert headers["connection"] == "close"
    assert auth.journal.total == before + 1


def test_client_killed_mid_body(live: Server, auth: MockAuth) -> None:
    # The client vanishes with a reset (SO_LINGER 0) mid-body: nothing to answer, but the
    # server records the request and goes on.
    before = auth.journal.total
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.sendall(post("/auth/login", b"username=user%40example.com&password=secretpassword")[:-20])
    sock.close()
    deadline = time.monotonic() + 10
    while auth.journal.total == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert auth.journal.total == before + 1
    assert auth.journal.entries()[-1].status == 400
