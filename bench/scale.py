"""Cost that must not grow with the work: the same figure with little and with much configured.

Each pair runs in one process, one after the other, on the same CPU (pinned), and compares CPU
seconds per operation (`time.process_time`, so another process on the machine does not count):

1. SAML SSO for an SP taken from a signed federation aggregate holding 1 SP, then 5,000 SPs;
   and the IdP's start-up time with the 5,000-SP aggregate (its signature verified once).
2. SAML SSO for that one SP with 100 employees in the directory, then 100,000.
3. Audit appends (groups of 10, as the background writer stores sso_issued records) on an empty
   chain, then on a chain of 1,000,000 events.

Each SSO answer goes through the whole Flask app in process (werkzeug's test client, no
socket): AuthnRequest parsed, SP looked up, session read, policy evaluated, Response and
Assertion signed. Goal: each pair within 10%; start-up under 10 s.

Run: .venv/bin/python bench/scale.py [operations per figure]
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import sqlite3
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask.testing import FlaskClient  # noqa: E402

from bench.servers import free_port  # noqa: E402
from flask_idp.app import create_app  # noqa: E402
from flask_idp.demo import prepare, seed  # noqa: E402
from idp.audit import AuditKind  # noqa: E402
from idp.config.loader import load_config  # noqa: E402
from idp.factors.kinds import FactorKind, FactorUse  # noqa: E402
from idp.keys import generate_self_signed  # noqa: E402
from idp.runtime import Runtime, build_runtime  # noqa: E402
from idp.store.sql.repositories.audit import entry  # noqa: E402
from idp.xmlsig import XmlSigner  # noqa: E402
from tests.idp.saml.federation_support import aggregate, sp_entity  # noqa: E402

FEDERATION_YAML = """
saml:
  federation:
    defaults:
      profile: generic
      policy: default
      name_id: {format: transient, source: transient}
    aggregates:
      - name: bench
        file: federation.xml
        signing_certs: [keys/federation.crt]
"""


def sp_id(index: int) -> str:
    return f"https://sp-{index:05d}.federation.example.org/shibboleth"


def write_aggregate(work: Path, count: int) -> None:
    key = generate_self_signed(
        work / "keys/federation.key", work / "keys/federation.crt", common_name="federation"
    )
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    xml = aggregate((sp_entity(sp_id(i)) for i in range(count)), valid_until=until)
    from lxml import etree

    root = etree.fromstring(xml)
    XmlSigner(key).sign(root, id_attribute="ID")
    (work / "federation.xml").write_bytes(etree.tostring(root))


def idp(work: Path, *, federation_sps: int = 0) -> tuple[Runtime, FlaskClient, float]:
    """An IdP from a demo directory (optionally with a federation aggregate); its start-up time."""
    config_path = prepare(work, port=free_port(), sp_port=free_port())
    if federation_sps:
        write_aggregate(work, federation_sps)
        config_path.write_text(config_path.read_text() + FEDERATION_YAML)
    begin = time.perf_counter()
    runtime = build_runtime(load_config(config_path))
    started = time.perf_counter() - begin
    seed(runtime)
    client = create_app(runtime).test_client()
    employee = runtime.employees.get_by_username("alice")
    assert employee is not None
    now = runtime.now()
    use = FactorUse(kind=FactorKind.PASSKEY, credential_id="bench", at=now,
                    user_verified=True, amr=("hwk", "user", "pin", "mfa"))  # fmt: skip
    session = runtime.sessions.create(employee_id=employee.id, now=now, factor=use)
    client.set_cookie(runtime.config.session.cookie_name, session.session_id, domain="localhost")
    return runtime, client, started


def authn_request(runtime: Runtime, entity_id: str) -> str:
    """An unsigned Redirect AuthnRequest from ``entity_id`` (federation SPs don't sign)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    acs = f"{entity_id}/acs"  # as tests/idp/saml/federation_support.sp_entity writes it
    xml = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="_{secrets.token_hex(16)}" Version="2.0" IssueInstant="{now}" '
        f'Destination="{runtime.config.base_url}/saml/login" '
        f'AssertionConsumerServiceURL="{acs}">'
        f"<saml:Issuer>{entity_id}</saml:Issuer></samlp:AuthnRequest>"
    ).encode()
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    encoded = base64.b64encode(deflater.compress(xml) + deflater.flush()).decode()
    return "/saml/login?" + urlencode({"SAMLRequest": encoded})


def cpu_per_call(calls: list[Callable[[], object]]) -> float:
    calls[0]()  # warm caches (employee, SP, compiled statements)
    begin = time.process_time()
    for call in calls[1:]:
        call()
    return (time.process_time() - begin) / (len(calls) - 1)


def sso_calls(
    runtime: Runtime, client: FlaskClient, entity_id: str, count: int
) -> list[Callable[[], object]]:
    paths = [authn_request(runtime, entity_id) for _ in range(count)]

    def call(path: str) -> Callable[[], object]:
        def go() -> object:
            response = client.get(path)
            assert response.status_code == 200 and b"SAMLResponse" in response.data, response.data[
                :300
            ]
            return response

        return go

    return [call(p) for p in paths]


def pair(label: str, small: float, large: float, unit: str = "SSO answers") -> None:
    change = 100 * (small / large - 1)  # rates: 1/cpu
    print(f"  {label:<40} {1 / small:8.1f} → {1 / large:8.1f} {unit}/s per core  "
          f"({change:+.1f}%; goal within 10%)")  # fmt: skip


def sps(count: int) -> None:
    print("SPs configured (signed federation aggregate):")
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as many:
        runtime, client, _ = idp(Path(one), federation_sps=1)
        small = cpu_per_call(sso_calls(runtime, client, sp_id(0), count))
        runtime.close()
        runtime, client, started = idp(Path(many), federation_sps=5000)
        large = cpu_per_call(sso_calls(runtime, client, sp_id(4999), count))
        runtime.close()
    pair("1 SP → 5,000 SPs", small, large)
    print(f"  start-up with 5,000 SPs: {started:.2f} s (goal under 10 s)")


def add_employees(runtime: Runtime, count: int, *, first: int = 0) -> None:
    """``count`` more employees, written in one transaction with the repository's own rows."""
    from sqlalchemy import insert

    from idp.directory.model import Employee
    from idp.store.sql.models import EmployeeRow
    from idp.store.sql.repositories.employees import _row_values

    now = runtime.now()
    rows = []
    for i in range(first, first + count):
        name = f"user{i:06d}"
        employee = Employee(
            id=secrets.token_hex(8), username=name, email=f"{name}@example.com",
            first_name="U", last_name=name,
        )  # fmt: skip
        rows.append({**_row_values(employee), "id": employee.id, "created_at": now})
    with runtime.db.connection(write=True) as connection:
        connection.execute(insert(EmployeeRow), rows)


def employees(count: int) -> None:
    print("Employees in the directory:")
    with tempfile.TemporaryDirectory() as work:
        runtime, client, _ = idp(Path(work), federation_sps=1)
        add_employees(runtime, 98)
        entity = sp_id(0)
        small = cpu_per_call(sso_calls(runtime, client, entity, count))
        add_employees(runtime, 99_900, first=98)
        large = cpu_per_call(sso_calls(runtime, client, entity, count))
        runtime.close()
    pair("100 → 100,000 employees", small, large)


def audit(count: int) -> None:
    print("Audit chain length (SQLite):")
    with tempfile.TemporaryDirectory() as work:
        runtime, _, _ = idp(Path(work))
        now = runtime.now()

        def batch() -> object:
            return runtime.audit.append_many([
                entry(kind=AuditKind.SSO_ISSUED, at=now, actor="alice", employee_id="e1",
                      relying_party="https://sp.example.com/metadata", factor="passkey",
                      details={"protocol": "saml"}) for _ in range(10)])  # fmt: skip

        small = cpu_per_call([batch] * max(count // 10, 20)) / 10
        grow_chain(Path(work) / "idp.sqlite3", 1_000_000)
        large = cpu_per_call([batch] * max(count // 10, 20)) / 10
        runtime.close()
    pair("empty → 1,000,000 events", small, large, unit="audit appends")


def grow_chain(path: Path, count: int) -> None:
    """Append ``count`` rows straight into the table and move the chain head past them (their
    hashes are not a real chain: only appending is measured here, not verifying)."""
    db = sqlite3.connect(path)
    (seq,) = db.execute("SELECT last_seq FROM audit_chain_head WHERE id = 1").fetchone()
    at = dt.datetime.now(dt.UTC).isoformat()
    rows = ((seq + i, at, "sso_issued", "alice", "success", "e1", "https://sp.example.com",
             "passkey", None, "{}", "0" * 64, secrets.token_hex(32))
            for i in range(1, count + 1))  # fmt: skip
    db.executemany(
        "INSERT INTO audit_events (seq, at, kind, actor, outcome, employee_id, relying_party, "
        "factor, reason, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.execute("UPDATE audit_chain_head SET last_seq = ?, last_hash = ? WHERE id = 1",
               (seq + count, "f" * 64))  # fmt: skip
    db.commit()
    db.close()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    os.sched_setaffinity(0, {0})
    sps(count)
    employees(count)
    audit(count)


if __name__ == "__main__":
    main()
