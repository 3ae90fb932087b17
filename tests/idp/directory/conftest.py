"""Directory sync against the real Samba AD DC (``samba`` fixture, tests/samba_dc.py) and the
loopback Entra ID stand-in (``tenant``, ``cloud``: tests/entra_standin.py).

One IdP runtime per module (SQLite + the in-process store, OIDC on so refresh tokens exist);
each test gets its own source name and its own scoping group, so tests share the DC and the
database without seeing each other's users.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ldap3
import pytest

from flask_idp.demo import prepare
from idp.config.directory import ENTRA_MAPPING, EntraSource, LdapSource
from idp.config.loader import load_config
from idp.directory.model import Employee
from idp.directory.sync.records import SyncSummary
from idp.directory.sync.service import run_sync
from idp.factors.kinds import FactorKind, FactorUse
from idp.runtime import Runtime, build_runtime
from tests import samba_dc as ad
from tests.e2e.entra_sim import oidc_section
from tests.entra_standin import CLIENT_ID, CLIENT_SECRET, TENANT, EntraStandIn, Group

BIND_ENV = "TEST_AD_BIND_PASSWORD"


def directory_yaml(dc: ad.SambaDC) -> str:
    return f"""
directory:
  interval_seconds: 3600
  sources:
    - name: corp
      kind: ldap
      url: ldaps://localhost:{dc.port}
      ca_file: {dc.ca_file}
      bind_user: {ad.ADMIN}
      bind_password: {{env: {BIND_ENV}}}
      base_dn: {dc.base_dn}
      page_size: 50
"""


def build_test_runtime(directory: Path, extra: str = "") -> Runtime:
    """An IdP runtime on SQLite + the in-process store, with OIDC on (refresh tokens exist)."""
    path = prepare(directory, port=18090, sp_port=18091)
    oidc = oidc_section(directory / "oidc", jwks_url="http://127.0.0.1:9/jwks")
    oidc = oidc.replace("saml:\n  enabled: false\n", "")
    path.write_text(path.read_text() + oidc + extra)
    return build_runtime(load_config(path))


@pytest.fixture(scope="module")
def runtime(samba: ad.SambaDC, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    mp = pytest.MonkeyPatch()
    mp.setenv(BIND_ENV, ad.ADMIN_PASSWORD)
    rt = build_test_runtime(tmp_path_factory.mktemp("sync"), directory_yaml(samba))
    yield rt
    mp.undo()
    rt.close()


@dataclass
class Scenario:
    """One test's corner of the directory: its own OU-less users, group and source."""

    runtime: Runtime
    conn: ldap3.Connection
    source: LdapSource
    group: str
    prefix: str

    def name(self, short: str) -> str:
        return f"{self.prefix}{short}"

    def user(self, short: str, *, member: bool = True, **attributes: object) -> str:
        name = self.name(short)
        values: dict[str, object] = {
            "mail": f"{name}@corp.example", "givenName": short.title(), "sn": "Tester",
            "company": "Hideez", "department": "Security", "title": "Engineer",
            "telephoneNumber": "+44 20 7946 0958",
        }  # fmt: skip
        values.update(attributes)
        dn = ad.add_user(self.conn, name, **values)
        if member:
            ad.add_members(self.conn, self.group, [dn])
        return dn

    def sync(self, **kwargs: object) -> SyncSummary:
        return run_sync(self.runtime, self.source, **kwargs)  # type: ignore[arg-type]

    def employee(self, short: str) -> Employee:
        found = self.runtime.employees.get_by_username(self.name(short))
        assert found is not None, short
        return found

    def session_for(self, short: str) -> str:
        """A signed-in session of the employee (as a passkey sign-in would leave it)."""
        rt = self.runtime
        use = FactorUse(kind=FactorKind.PASSKEY, credential_id="cred", at=rt.now(),
                        user_verified=True, amr=("hwk",))  # fmt: skip
        return rt.sessions.create(
            employee_id=self.employee(short).id, now=rt.now(), factor=use
        ).session_id

    def with_source(self, **changes: object) -> Scenario:
        return dataclasses.replace(self, source=dataclasses.replace(self.source, **changes))  # type: ignore[arg-type]


@pytest.fixture
def scenario(runtime: Runtime, samba: ad.SambaDC) -> Iterator[Scenario]:
    prefix = f"t{secrets.token_hex(3)}-"
    conn = samba.connect()
    group = ad.add_group(conn, f"{prefix}Hideez Users Sync")
    base = runtime.config.directory.sources[0]  # type: ignore[union-attr]
    assert isinstance(base, LdapSource)
    source = dataclasses.replace(
        base, name=prefix.rstrip("-"), scope_group=f"{prefix}Hideez Users Sync"
    )
    yield Scenario(runtime, conn, source, group, prefix)
    conn.unbind()


def config_dir(runtime: Runtime) -> Path:
    return runtime.config.source.parent


# -- Entra ID: the loopback stand-in (tests/entra_standin.py) --------------------------------


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntraStandIn]:
    standin = EntraStandIn(tmp_path_factory.mktemp("entra"), page_size=3).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    rt = build_test_runtime(tmp_path_factory.mktemp("entra-idp"))
    yield rt
    rt.close()


@dataclass
class Cloud:
    runtime: Runtime
    tenant: EntraStandIn
    source: EntraSource
    group: Group
    prefix: str
    waits: list[float]

    def sync(self, **kwargs: object) -> SyncSummary:
        return run_sync(self.runtime, self.source, **kwargs)  # type: ignore[arg-type]

    def user(self, short: str, *, member: bool = True, **values: object):  # type: ignore[no-untyped-def]
        user = self.tenant.add_user(
            f"{self.prefix}{short}",
            givenName=short.title(),
            surname="Cloud",
            jobTitle="Engineer",
            companyName="Contoso",
            **values,
        )
        if member:
            self.tenant.add_member(self.group, user)
        return user

    def employee(self, short: str) -> Employee:
        found = self.runtime.employees.get_by_username(f"{self.prefix}{short}@contoso.example")
        assert found is not None, short
        return found


@pytest.fixture
def cloud(idp: Runtime, tenant: EntraStandIn) -> Cloud:
    prefix = f"e{secrets.token_hex(3)}-"
    group = tenant.add_group(f"{prefix}Hideez Users Sync")
    source = EntraSource(
        name=prefix.rstrip("-"),
        mapping=dict(ENTRA_MAPPING),
        scope_group=group.displayName,
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        authority=tenant.base,
        graph_url=f"{tenant.base}/v1.0",
        ca_file=tenant.ca,
        max_retry_wait_seconds=5,
    )
    return Cloud(idp, tenant, source, group, prefix, [])
