"""A real Samba AD DC on loopback for the directory tests and ``bench/sync.py``.

Facts this follows (DESIGN.md, "Samba AD DC in tests"): provisioning takes seconds, so it is done
once into a *golden copy* kept under ``/tmp/hideez-idp-samba/<samba version>-<recipe>/`` and
copied for each run (only ``etc/smb.conf`` holds absolute paths); the LDAPS certificate is made
in advance by a test CA (Samba's own RSA-4096 one is slow); ``samba -i -M single`` runs in its
own process group and is stopped with ``killpg``. The ports are fixed (389, 636, 3268, 3269):
one file lock makes every run on this machine take turns, and a port that already answers
refuses the start (a stale server would silently take the tests).

The golden domain has minimum password age 0 (AD's default of one day would make every user
change "too young"), minimum length 12, complexity on and a history of 3. Users and groups
are made by the tests, over LDAPS, as an administrator would.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ldap3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REALM = "HIDEEZ.TEST"
DOMAIN = "HIDEEZ"
BASE_DN = "DC=hideez,DC=test"
ADMIN = f"Administrator@{REALM.lower()}"
ADMIN_PASSWORD = "Adm1n-Pass!x-2026"
HOST = "127.0.0.1"
PORTS = (389, 636, 3268, 3269)
CACHE = Path(os.environ.get("HIDEEZ_SAMBA_CACHE", "/tmp/hideez-idp-samba"))
LOCK_FILE = Path("/tmp/hideez-idp-samba.lock")
LOCK_WAIT_SECONDS = 600
# Bump when the golden recipe changes: the cache key includes it.
RECIPE = "3"
POLICY = ("--min-pwd-age=0", "--min-pwd-length=12", "--complexity=on", "--history-length=3")


class SambaUnavailable(RuntimeError):
    """Samba is not installed, or the DC could not be started."""


def samba_version() -> str:
    if shutil.which("samba") is None or shutil.which("samba-tool") is None:
        raise SambaUnavailable("the samba and samba-tool programs are not installed")
    out = subprocess.run(["samba", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().removeprefix("Version ").replace(" ", "_")


def _golden_key(extra: str = "") -> str:
    digest = hashlib.sha256(f"{RECIPE}|{POLICY}|{extra}".encode()).hexdigest()[:10]
    return f"{samba_version()}-{digest}"


def _make_tls(private: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hideez-idp test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [
        x509.DNSName("localhost"),
        x509.DNSName(f"dc.{REALM.lower()}"),
        x509.IPAddress(ipaddress.ip_address(HOST)),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"dc.{REALM.lower()}")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (private / "test-ca.pem").write_bytes(ca.public_bytes(pem))
    (private / "tls-cert.pem").write_bytes(cert.public_bytes(pem))
    key_file = private / "tls-key.pem"
    key_file.write_bytes(
        key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)


def _provision(target: Path) -> None:
    """A fresh domain in ``target`` (~10 s), with the test password policy and TLS files."""
    target.mkdir(parents=True)
    empty = target / "empty.conf"
    empty.write_text("")
    options = {
        "server services": "ldap",
        "bind interfaces only": "yes",
        "interfaces": HOST,
        "pid directory": f"{target}/pid",
        "ncalrpc dir": f"{target}/ncalrpc",
        "winbindd socket directory": f"{target}/winbindd",
        "ntp signd socket directory": f"{target}/ntp_signd",
        "log file": f"{target}/log/samba.log",
        "tls enabled": "yes",
        "tls keyfile": f"{target}/private/tls-key.pem",
        "tls certfile": f"{target}/private/tls-cert.pem",
        "tls cafile": "",
    }
    command = [
        "samba-tool",
        "domain",
        "provision",
        "-s",
        str(empty),
        f"--realm={REALM}",
        f"--domain={DOMAIN}",
        "--server-role=dc",
        "--dns-backend=NONE",
        f"--host-ip={HOST}",
        f"--adminpass={ADMIN_PASSWORD}",
        f"--targetdir={target}",
        *(f"--option={k} = {v}" for k, v in options.items()),
    ]
    _run(command, "provisioning the Samba domain")
    conf = target / "etc" / "smb.conf"
    _run(
        ["samba-tool", "domain", "passwordsettings", "set", "-s", str(conf), *POLICY],
        "setting the test password policy",
    )
    for name in ("pid", "log"):
        (target / name).mkdir(exist_ok=True)
    _make_tls(target / "private")


def _run(command: Sequence[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SambaUnavailable(f"{what} failed: {' | '.join(tail)}")


@contextmanager
def _locked(path: Path, *, wait: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SambaUnavailable(f"{path} stayed locked for {wait:.0f} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def golden_copy(name: str = "base") -> Path:
    """The provisioned domain for ``name``, made once and cached (a build lock guards it)."""
    root = CACHE / f"{_golden_key(name)}-{name}"
    if (root / "ready").exists():
        return root
    with _locked(CACHE / f".{root.name}.lock", wait=LOCK_WAIT_SECONDS):
        if (root / "ready").exists():
            return root
        building = root.with_name(root.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        _provision(building)
        (building / "ready").write_text(str(building))  # the path the copy was made at
        shutil.rmtree(root, ignore_errors=True)
        building.rename(root)
        return root


def golden_path(name: str) -> Path:
    return CACHE / f"{_golden_key(name)}-{name}"


def cached(name: str) -> Path | None:
    """The golden copy ``name`` if it was built and saved before."""
    root = golden_path(name)
    return root if (root / "ready").exists() else None


def copy_to(golden: Path, workdir: Path) -> Path:
    """A copy of ``golden`` under ``workdir`` with its paths rewritten (the DC not started)."""
    return _copy(golden, workdir)


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((HOST, port)) == 0


@dataclass
class SambaDC:
    """A running DC; ``ca_file`` validates its LDAPS certificate."""

    root: Path
    process: subprocess.Popen[bytes]
    ca_file: Path
    host: str = "localhost"
    port: int = 636
    base_dn: str = BASE_DN

    @property
    def url(self) -> str:
        return f"ldaps://{self.host}:{self.port}"

    def connect(self, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> ldap3.Connection:
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file))
        server = ldap3.Server(self.host, port=self.port, use_ssl=True, tls=tls, get_info=ldap3.NONE)
        return ldap3.Connection(
            server, user=user, password=password, auto_bind=True, raise_exceptions=True
        )

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def save_as_golden(self, name: str) -> Path:
        """Stop, and keep this directory (with what was added) as the golden copy ``name``."""
        self.stop()
        root = CACHE / f"{_golden_key(name)}-{name}"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(self.root, root, symlinks=True, ignore=shutil.ignore_patterns("ldapi"))
        for gone in ("pid", "ncalrpc", "winbindd", "ntp_signd"):
            shutil.rmtree(root / gone, ignore_errors=True)
        (root / "ready").write_text(str(self.root))
        return root


def _copy(golden: Path, workdir: Path) -> Path:
    target = workdir / "dc"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(golden, target, symlinks=True)
    made_at = (golden / "ready").read_text().strip()
    conf = target / "etc" / "smb.conf"
    conf.write_text(conf.read_text().replace(made_at, str(target)))
    (target / "pid").mkdir(exist_ok=True)
    return target


@contextmanager
def running_dc(workdir: Path, *, golden: Path | None = None) -> Iterator[SambaDC]:
    """A DC on a copy of ``golden`` (default: the base domain) for the ``with`` block."""
    golden = golden or golden_copy()
    with _locked(LOCK_FILE, wait=LOCK_WAIT_SECONDS):
        if busy := [p for p in PORTS if _answers(p)]:
            raise SambaUnavailable(f"port(s) {busy} on {HOST} already answer: a stale server?")
        root = _copy(golden, workdir)
        log = (root / "log" / "stdout.log").open("wb")
        process = subprocess.Popen(
            ["samba", "-s", str(root / "etc" / "smb.conf"), "-i", "-M", "single"],
            # ``-i`` ends the server at EOF on stdin (CI has none): a pipe kept open until stop.
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        dc = SambaDC(root=root, process=process, ca_file=root / "private" / "test-ca.pem")
        try:
            _wait_ready(dc)
            yield dc
        finally:
            dc.stop()
            log.close()


def _wait_ready(dc: SambaDC, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dc.process.poll() is not None:
            raise SambaUnavailable(f"samba exited with {dc.process.returncode}; see {dc.root}/log")
        try:
            dc.connect().unbind()
            return
        except ldap3.core.exceptions.LDAPException:
            time.sleep(0.1)
    raise SambaUnavailable(f"samba did not answer LDAPS within {timeout:.0f} s")


# -- what an administrator does in Active Directory Users and Computers -----------------------

USER_CLASSES = ["top", "person", "organizationalPerson", "user"]
NORMAL_ACCOUNT = 0x200
ACCOUNTDISABLE = 0x2
#: enabled without a password (PASSWD_NOTREQD): cheap users for sync tests (a password costs ~60 ms)
NO_PASSWORD_ACCOUNT = NORMAL_ACCOUNT | 0x20


def encode_password(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


def user_dn(name: str, ou: str = "CN=Users") -> str:
    return f"CN={name},{ou},{BASE_DN}"


def add_user(
    conn: ldap3.Connection,
    name: str,
    *,
    password: str | None = None,
    ou: str = "CN=Users",
    **attributes: object,
) -> str:
    """A user ``name`` (sAMAccountName and CN), enabled when given a password."""
    dn = user_dn(name, ou)
    values: dict[str, object] = {
        "sAMAccountName": name,
        "userPrincipalName": f"{name}@{REALM.lower()}",
        **attributes,
    }
    if password is not None:
        values["unicodePwd"] = encode_password(password)
    values.setdefault("userAccountControl", NORMAL_ACCOUNT if password else NO_PASSWORD_ACCOUNT)
    conn.add(dn, USER_CLASSES, values)
    return dn


def add_group(conn: ldap3.Connection, name: str, members: Sequence[str] = ()) -> str:
    dn = f"CN={name},CN=Users,{BASE_DN}"
    conn.add(
        dn,
        ["top", "group"],
        {"sAMAccountName": name, **({"member": list(members)} if members else {})},
    )
    return dn


def add_members(conn: ldap3.Connection, group: str, members: Sequence[str]) -> None:
    conn.modify(group, {"member": [(ldap3.MODIFY_ADD, list(members))]})


def remove_members(conn: ldap3.Connection, group: str, members: Sequence[str]) -> None:
    conn.modify(group, {"member": [(ldap3.MODIFY_DELETE, list(members))]})


def set_attributes(conn: ldap3.Connection, dn: str, **values: object) -> None:
    conn.modify(
        dn,
        {k: [(ldap3.MODIFY_REPLACE, v if isinstance(v, list) else [v])] for k, v in values.items()},
    )
