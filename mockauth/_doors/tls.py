"""HTTPS for the live doors: mockauth's local certificate authority, the certificates it
issues, and the first look at each connection.

The CA is made once per user, as mkcert makes its own, and kept in the user's data
folder (``MOCKAUTH_DATA_DIR`` overrides it), so a browser or a client told to trust it
once trusts every later ``mockauth serve --tls``. Its key never leaves that folder and
is readable by the user alone. Each server gets a short-lived certificate for
``localhost``, ``127.0.0.1``, ``::1`` and its own host, signed at start and signed again
before it expires, so nothing long-lived sits anywhere but the CA.

Both servers hand each accepted connection to ``ServerTLS.wrap_socket``, Werkzeug from
its request thread and gunicorn through its ``ssl_context`` hook: it looks at the first
byte, answers plain HTTP with a JSON 400 naming the https:// URL, and runs the handshake
with a time limit, so a silent client holds one thread for ``read_timeout`` at most.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

    from .._settings import Settings

DATA_DIR_VARIABLE = "MOCKAUTH_DATA_DIR"
CA_CERT_NAME = "mockauth-ca.pem"
CA_KEY_NAME = "mockauth-ca-key.pem"
CA_LIFETIME = datetime.timedelta(days=3650)
# Short-lived: a server certificate's key sits in a temporary file while it serves.
LEAF_LIFETIME = datetime.timedelta(days=7)
RENEW_BEFORE = datetime.timedelta(days=1)
# Backdated, so a client whose clock is a little behind still accepts a new certificate.
CLOCK_SKEW = datetime.timedelta(hours=1)
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
# Another process making the CA at the same moment (two xdist workers) is given this long.
CA_WAIT = 5.0
_TLS_HANDSHAKE_RECORD = 0x16
_PLAIN_HEAD_LIMIT = 16384


def data_dir() -> Path:
    """Where mockauth keeps its CA: ``$MOCKAUTH_DATA_DIR``, else the platform's data
    folder for the user (``$XDG_DATA_HOME/mockauth`` or ``~/.local/share/mockauth`` on
    Linux, ``~/Library/Application Support/mockauth`` on macOS, ``%LOCALAPPDATA%\\mockauth``
    on Windows)."""
    override = os.environ.get(DATA_DIR_VARIABLE)
    if override:
        return Path(override).expanduser()
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no entry in the password database
        raise ConfigError(f"no home folder to keep mockauth's local CA in: set {DATA_DIR_VARIABLE}") from None
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        # The XDG spec: a relative path is invalid and must be ignored.
        base = Path(xdg) if os.path.isabs(xdg) else home / ".local" / "share"
    return base / "mockauth"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(certificate: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return certificate.public_bytes(serialization.Encoding.PEM)


def _same_public_key(certificate: x509.Certificate, key: CertificateIssuerPrivateKeyTypes) -> bool:
    from cryptography.hazmat.primitives import serialization

    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(certificate.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki))


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class LocalCA:
    """mockauth's certificate authority on this machine: its certificate (the file to
    trust) and its key (readable by the user alone)."""

    cert_path: Path
    key_path: Path
    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes

    def issue(self, names: Iterable[str], lifetime: datetime.timedelta = LEAF_LIFETIME) -> tuple[bytes, bytes]:
        """A server certificate for `names` (host names or IP addresses), and its key, as PEM."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        names = list(dict.fromkeys(names))
        alternative: list[x509.GeneralName] = []
        for name in names:
            try:
                alternative.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternative.append(x509.DNSName(name))
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockauth development certificate"),
                x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
            ]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + lifetime)
            .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return _cert_pem(certificate), _pem(key)


def _key_usage(*, signing: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=signing, crl_sign=signing,
        encipher_only=False, decipher_only=False,
    )


def local_ca(directory: Path | None = None) -> LocalCA:
    """The local CA in `directory` (``data_dir()`` by default), made on first use."""
    directory = directory if directory is not None else data_dir()
    cert_path, key_path = directory / CA_CERT_NAME, directory / CA_KEY_NAME
    if not cert_path.exists():
        _create_ca(directory, cert_path, key_path)
    return _load_ca(cert_path, key_path)


def _create_ca(directory: Path, cert_path: Path, key_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL: of two processes making the CA at once, one writes the key, the other
        # waits for the certificate that goes with it.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        deadline = time.monotonic() + CA_WAIT
        while not cert_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not cert_path.exists():  # a key left alone by a process that died: certify it
            _write_ca_cert(cert_path, _load_key(key_path))
        return
    except OSError as error:
        raise ConfigError(f"{directory}: cannot make mockauth's local CA there: {error.strerror}") from None
    key = ec.generate_private_key(ec.SECP256R1())
    with os.fdopen(fd, "wb") as out:
        out.write(_pem(key))
    _write_ca_cert(cert_path, key)


def _write_ca_cert(cert_path: Path, key: CertificateIssuerPrivateKeyTypes) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    try:
        owner = f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # no user name in this environment (a container's uid)
        owner = socket.gethostname()
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockauth development CA"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, owner[:64]),
        x509.NameAttribute(NameOID.COMMON_NAME, f"mockauth {owner}"[:64]),
    ])
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    # Written whole under another name, then renamed: a reader sees all of it or nothing.
    partial = cert_path.with_name(f".{cert_path.name}.{os.getpid()}.{threading.get_ident()}")
    partial.write_bytes(_cert_pem(certificate))
    os.replace(partial, cert_path)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{what}: {path}: cannot read: {error.strerror}") from None


def _load_key(path: Path, what: str = "mockauth's local CA key") -> CertificateIssuerPrivateKeyTypes:
    from cryptography.hazmat.primitives import serialization

    data = _read(path, what)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's word for a key that needs a password
        raise ConfigError(f"{what}: {path}: the key is encrypted; mockauth needs it unencrypted") from None
    except ValueError:
        raise ConfigError(f"{what}: {path}: not an unencrypted PEM private key") from None
    return key  # type: ignore[return-value]


def _load_certificates(path: Path, what: str) -> list[x509.Certificate]:
    from cryptography import x509

    data = _read(path, what)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise ConfigError(f"{what}: {path}: not a PEM certificate")
    return certificates


def _check_dates(certificate: x509.Certificate, path: Path, what: str) -> None:
    now = _now()
    if now > certificate.not_valid_after_utc:
        raise ConfigError(f"{what}: {path}: expired on {_when(certificate.not_valid_after_utc)}")
    if now < certificate.not_valid_before_utc:
        raise ConfigError(f"{what}: {path}: not valid before {_when(certificate.not_valid_before_utc)}")


def _load_ca(cert_path: Path, key_path: Path) -> LocalCA:
    what = "mockauth's local CA"
    certificate = _load_certificates(cert_path, what)[0]
    key = _load_key(key_path)
    remake = f"; delete {cert_path} and {key_path} to make a new CA (and trust it again)"
    try:
        _check_dates(certificate, cert_path, what)
    except ConfigError as error:
        raise ConfigError(f"{error}{remake}") from None
    if not _same_public_key(certificate, key):
        raise ConfigError(f"{what}: {key_path} is not the key of {cert_path}{remake}")
    return LocalCA(cert_path, key_path, certificate, key)


def server_names(host: str) -> list[str]:
    """The names a server certificate for `host` is good for: this machine's loopback
    names, the host itself, and this machine's name when it listens everywhere."""
    names = list(LOCAL_NAMES)
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0", "::"):
        names.append(socket.gethostname())
    else:
        names.append(bare)
    return list(dict.fromkeys(names))


class PlainHTTP(ssl.SSLError):
    """A connection that did not start a TLS handshake, or whose handshake failed; it
    has been answered or closed already. Its first argument is ``SSL_ERROR_EOF``, which
    gunicorn takes as a connection to close without a word."""


_HOST = re.compile(rb"\r\nhost:[ \t]*([A-Za-z0-9.:\[\]-]{1,255})[ \t]*\r\n", re.IGNORECASE)
_TARGET = re.compile(rb"[A-Z]{1,16} (/[!-~]{0,2000}) HTTP/1\.[01]\r\n")


class ServerTLS:
    """The certificate a live server speaks HTTPS with, and the first look at each
    connection (``wrap_socket``). Built by ``server_tls``."""

    def __init__(
        self,
        cert_file: Path,
        key_file: Path,
        *,
        ca: LocalCA | None = None,
        names: tuple[str, ...] = (),
        log: Callable[[str], None] | None = None,
        handshake_timeout: float | None = 30.0,
    ) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.ca = ca
        self.names = names
        self.log = log
        self.handshake_timeout = handshake_timeout
        self._lock = threading.Lock()
        self._context = self._load()

    @property
    def ca_bundle(self) -> str | None:
        """The CA certificate clients should trust, when the local CA issued ours."""
        return str(self.ca.cert_path) if self.ca is not None else None

    def _load(self) -> ssl.SSLContext:
        if self.ca is not None:
            cert_pem, key_pem = self.ca.issue(self.names)
            self.renew_at = time.time() + (LEAF_LIFETIME - RENEW_BEFORE).total_seconds()
            _write_private(self.key_file, key_pem)
            _write_private(self.cert_file, cert_pem)
        else:
            self.renew_at = float("inf")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(
                f"setting 'tls_cert': {self.cert_file} with tls_key {self.key_file}: "
                f"cannot serve HTTPS with them ({getattr(error, 'reason', None) or error})"
            ) from None
        return context

    def context(self) -> ssl.SSLContext:
        """The context for a new connection; the local CA's certificate is renewed a day
        before it expires, so a server that runs for weeks keeps a valid one."""
        if time.time() >= self.renew_at:
            with self._lock:
                if time.time() >= self.renew_at:
                    self._context = self._load()
        return self._context

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = True,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
    ) -> ssl.SSLSocket:
        """TLS over an accepted connection, handshake done. Plain HTTP gets a JSON 400
        naming the https:// URL; it and a failed handshake raise PlainHTTP, with the
        connection answered or closed (the caller closes `sock`)."""
        previous = sock.gettimeout()
        sock.settimeout(self.handshake_timeout)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except OSError:
            first = b""
        if not first:
            raise PlainHTTP(ssl.SSL_ERROR_EOF, "the client closed the connection before TLS")
        peer = _peer(sock)
        if first[0] != _TLS_HANDSHAKE_RECORD:
            self._refuse_plain_http(sock, peer)
            raise PlainHTTP(ssl.SSL_ERROR_EOF, "plain HTTP on the HTTPS port")
        wrapped = self.context().wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False, suppress_ragged_eofs=suppress_ragged_eofs
        )
        try:
            wrapped.do_handshake()
        except (OSError, ValueError) as error:  # ssl.SSLError, a timeout, a reset
            wrapped.close()
            self._say(f"TLS handshake with {peer} failed: {_reason(error)}")
            raise PlainHTTP(ssl.SSL_ERROR_EOF, f"TLS handshake failed: {error}") from None
        wrapped.settimeout(previous)
        return wrapped

    def _refuse_plain_http(self, sock: socket.socket, peer: str) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < _PLAIN_HEAD_LIMIT:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
        host, target = _HOST.search(head), _TARGET.match(head)
        address = sock.getsockname()
        where = host.group(1).decode() if host else _authority(address[0], address[1])
        url = f"https://{where}{target.group(1).decode() if target else '/'}"
        body = json.dumps({
            "error": "invalid_request",
            "error_description": f"This port speaks HTTPS and the request came in plain HTTP: use {url}",
        }).encode()
        answer = (
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        with contextlib.suppress(OSError):
            sock.sendall(answer)
            sock.shutdown(socket.SHUT_WR)
            # Read what the client still sends until it closes: closing with unread bytes
            # would reset the connection, and the client could lose the answer.
            sock.settimeout(1.0)
            for _ in range(16):
                if not sock.recv(4096):
                    break
        self._say(f"plain HTTP from {peer} on the HTTPS port: answered 400 (use {url})")

    def _say(self, message: str) -> None:
        if self.log is not None:
            self.log(message)

    def close(self) -> None:
        """Remove the temporary files of a certificate the local CA issued."""
        if self.ca is not None:
            shutil.rmtree(self.cert_file.parent, ignore_errors=True)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (a private key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _peer(sock: socket.socket) -> str:
    try:
        address = sock.getpeername()
    except OSError:
        return "a client"
    return str(address[0])


def _reason(error: BaseException) -> str:
    reason = str(getattr(error, "reason", None) or error).lower().replace("_", " ")
    if "unknown ca" in reason or "bad certificate" in reason or "certificate unknown" in reason:
        return f"{reason} (the client does not trust the certificate: see `mockauth tls trust`)"
    return reason


def server_tls(
    settings: Settings, host: str, *, log: Callable[[str], None] | None = None, ca_dir: Path | None = None
) -> ServerTLS | None:
    """What a server on `host` speaks HTTPS with, as `settings` say: None (plain HTTP),
    the ``tls_cert``/``tls_key`` files, or a certificate from the local CA. Raises
    ConfigError naming the file that is unreadable, expired or not a match."""
    if not settings.tls:
        return None
    timeout = float(settings.read_timeout)
    if settings.tls_cert is None or settings.tls_key is None:
        ca = local_ca(ca_dir)
        folder = Path(tempfile.mkdtemp(prefix="mockauth-tls-"))  # private to the user (0700)
        return ServerTLS(
            folder / "cert.pem", folder / "key.pem", ca=ca, names=tuple(server_names(host)),
            log=log, handshake_timeout=timeout,
        )
    cert_path, key_path = Path(settings.tls_cert), Path(settings.tls_key)
    certificate = _load_certificates(cert_path, "setting 'tls_cert'")[0]
    _check_dates(certificate, cert_path, "setting 'tls_cert'")
    key = _load_key(key_path, "setting 'tls_key'")
    if not _same_public_key(certificate, key):
        raise ConfigError(f"setting 'tls_key': {key_path} is not the key of the certificate {cert_path}")
    return ServerTLS(cert_path, key_path, log=log, handshake_timeout=timeout)
