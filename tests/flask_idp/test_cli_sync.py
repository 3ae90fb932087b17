"""``hideez-idp sync …`` and ``hideez-idp password …`` through ``main()``, against Samba."""

from __future__ import annotations

import base64
import io
import os
import secrets
from pathlib import Path

import ldap3
import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.admin.access import CLI
from idp.audit import AuditKind
from idp.config.loader import load_config
from idp.runtime import Runtime, build_runtime
from idp.vault.model import KeyImport, LoginType
from idp.vault.service import build_vault_service
from idp.vault.states import VaultStatus
from tests import samba_dc as ad
from tests.idp.directory import desks

pytestmark = pytest.mark.samba
START = "Start-Pass-123!x"


def _directory(dc: ad.SambaDC, group: str, password_ref: str) -> str:
    return f"""
directory:
  sources:
    - name: corp
      kind: ldap
      url: ldaps://localhost:{dc.port}
      ca_file: {dc.ca_file}
      bind_user: {ad.ADMIN}
      bind_password: {password_ref}
      base_dn: {dc.base_dn}
      scope_group: {group}
      rotation_group: {group}
"""


@pytest.fixture
def world(tmp_path: Path, samba: ad.SambaDC, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    prefix = f"c{secrets.token_hex(3)}-"
    conn = samba.connect()
    group = ad.add_group(conn, f"{prefix}Sync")
    path = prepare(tmp_path / "idp", port=18095, sp_port=18096)
    base = path.read_text()
    path.write_text(base + _directory(samba, f"{prefix}Sync", "{env: AD_BIND}"))
    monkeypatch.setenv("AD_BIND", ad.ADMIN_PASSWORD)
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(path))
    yield path, conn, group, prefix, base
    conn.unbind()


def _user(conn: ldap3.Connection, group: str, name: str, password: str | None = None) -> str:
    dn = ad.add_user(
        conn, name, password=password, mail=f"{name}@corp.example", givenName="C", sn="Li"
    )
    ad.add_members(conn, group, [dn])
    return dn


def _runtime(path: Path) -> Runtime:
    return build_runtime(load_config(path))


def test_dry_run_then_run_then_status(world, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path, conn, group, prefix, _ = world
    _user(conn, group, f"{prefix}ann")
    assert main(["sync", "run", "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert (
        f"plan corp (full): 1 read, 0 unchanged, 1 changes\n  create            {prefix}ann" in plan
    )
    assert _runtime(path).employees.get_by_username(f"{prefix}ann") is None

    assert main(["sync", "run"]) == 0
    assert "synced corp (full): 1 read" in capsys.readouterr().out
    assert _runtime(path).employees.get_by_username(f"{prefix}ann") is not None
    assert main(["sync", "status"]) == 0
    status = capsys.readouterr().out
    assert status.startswith("corp (ldap): 1 employees, last success 20") and "USN" in status


def test_unknown_source_and_missing_section_are_clear_errors(world, capsys) -> None:  # type: ignore[no-untyped-def]
    path, _, _, _, base = world
    assert main(["sync", "run", "--source", "nope"]) == 2
    assert "no directory source 'nope'; configured: corp" in capsys.readouterr().err
    path.write_text(base)
    assert main(["sync", "run"]) == 2
    assert "has no directory: section" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("      page_sise: 10\n", "directory.sources[0].page_sise: unknown key"),
        ("      on_leave_scope: vanish\n", "'vanish' is not one of: keep, deactivate, delete"),
        ("      filter: (department=Sales\n", "expected an LDAP filter in parentheses"),
        ("      verify_certificate: false\n", "may only be off for a loopback test directory"),
    ],
)
def test_bad_directory_config_names_file_and_key(world, capsys, extra: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path, _, _, _, _ = world
    text = path.read_text()
    if "verify_certificate" in extra:
        text = text.replace("url: ldaps://localhost", "url: ldaps://dc.corp.example")
    path.write_text(text + extra)
    assert main(["sync", "run"]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err


def test_a_literal_bind_password_is_refused(world, capsys) -> None:  # type: ignore[no-untyped-def]
    path, _, _, _, _ = world
    path.write_text(path.read_text().replace("{env: AD_BIND}", "hunter2"))
    assert main(["sync", "status"]) == 2
    assert "secrets must not be written in YAML" in capsys.readouterr().err


def test_stored_bind_secret_is_encrypted_and_used(world, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, conn, group, prefix, _ = world
    _user(conn, group, f"{prefix}bea")
    monkeypatch.setenv("HIDEEZ_IDP_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    path.write_text(path.read_text().replace("{env: AD_BIND}", "{stored: true}"))
    assert main(["sync", "run"]) == 2
    assert "none is stored: run 'hideez-idp sync secret corp'" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(ad.ADMIN_PASSWORD + "\n"))
    assert main(["sync", "secret", "corp"]) == 0
    assert "stored the secret of corp, encrypted" in capsys.readouterr().out
    db_bytes = Path(str(load_config(path).database_url).removeprefix("sqlite:///")).read_bytes()
    assert ad.ADMIN_PASSWORD.encode() not in db_bytes
    assert main(["sync", "run"]) == 0
    assert _runtime(path).employees.get_by_username(f"{prefix}bea") is not None


def test_schedule_runs_on_its_interval(world, capsys) -> None:  # type: ignore[no-untyped-def]
    _, conn, group, prefix, _ = world
    _user(conn, group, f"{prefix}cal")
    assert main(["sync", "schedule", "--runs", "2", "--interval", "1"]) == 0
    out = capsys.readouterr().out
    assert "synced corp (full): 1 read" in out and "synced corp (incremental): 0 read" in out


def test_password_commands(world, capsys, monkeypatch, samba: ad.SambaDC) -> None:  # type: ignore[no-untyped-def]
    path, conn, group, prefix, _ = world
    name = f"{prefix}dan"
    _user(conn, group, name, password=START)
    assert main(["sync", "run"]) == 0
    assert main(["password", "policy", "corp"]) == 0
    assert "corp: at least 12 characters; three of" in capsys.readouterr().out

    monkeypatch.setattr("sys.stdin", io.StringIO("Short-1!\n"))
    assert main(["password", "reset", name, "--stdin"]) == 2
    assert "does not meet the password policy: at least 12 characters" in capsys.readouterr().err
    samba.connect(user=f"{name}@hideez.test", password=START).unbind()  # unchanged

    assert main(["password", "reset", name, "--generate"]) == 0
    out = capsys.readouterr().out
    generated = out.split("generated password (shown once): ")[1].strip()
    samba.connect(user=f"{name}@hideez.test", password=generated).unbind()

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{generated}\nMy-Own-Pass-2026!\n"))
    assert main(["password", "change", name]) == 0
    samba.connect(user=f"{name}@hideez.test", password="My-Own-Pass-2026!").unbind()
    kinds = [e.kind for e in _runtime(path).audit.list(limit=5).items]
    assert AuditKind.PASSWORD_CHANGED in kinds and AuditKind.PASSWORD_SET in kinds

    assert main(["password", "reset", "nobody-here", "--generate"]) == 2
    assert "no employee 'nobody-here'" in capsys.readouterr().err
    assert main(["password", "rotate"]) == 0
    assert "corp: 0 passwords renewed" in capsys.readouterr().out


def test_imported_employee_is_read_only_where_the_directory_owns_it(world, capsys) -> None:  # type: ignore[no-untyped-def]
    path, conn, group, prefix, _ = world
    name = f"{prefix}eve"
    _user(conn, group, name)
    assert main(["sync", "run"]) == 0
    assert main(["employee", "update", name, "--email", "other@example.com"]) == 2
    err = capsys.readouterr().err
    assert (
        f"{name} is imported from directory source 'corp', which owns email: change it there" in err
    )
    assert _runtime(path).employees.get_by_username(name).email == f"{name}@corp.example"  # type: ignore[union-attr]
    assert (
        main(["employee", "update", name, "--sso-mode", "two_factor"]) == 0
    )  # not the directory's


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only() -> None:
    from flask_idp.cli_sync import _progress_bar
    from idp.directory.sync.engine import Progress

    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with _progress_bar(stream) as show:
            show(Progress("corp", "read", 500))
            show(Progress("corp", "read", 1000, 4000))
    assert terminal.getvalue() == (
        "\rcorp read: 500 users\rcorp [#######-----------------------] 1000/4000 read\n"
    )
    assert pipe.getvalue() == ""


def test_password_commands_update_the_domain_account_on_the_key(world, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, conn, group, prefix, _ = world
    name = f"{prefix}kim"
    _user(conn, group, name, password=START)
    assert main(["sync", "run"]) == 0
    runtime = _runtime(path)
    employee = runtime.employees.get_by_username(name)
    assert employee is not None
    desk = desks.desk(runtime, None, employee.id, f"{ad.DOMAIN}\\{name}", LoginType.DOMAIN)
    capsys.readouterr()

    monkeypatch.setattr("sys.stdin", io.StringIO("Reset-Pass-2026!x\n"))
    assert main(["password", "reset", name, "--stdin"]) == 0
    assert "1 account(s) on Hideez Keys updated" in capsys.readouterr().out
    assert desk.stored() == "Reset-Pass-2026!x"

    monkeypatch.setattr("sys.stdin", io.StringIO("Reset-Pass-2026!x\nOwn-Pass-2026!xy\n"))
    assert main(["password", "change", name]) == 0
    assert desk.stored() == "Own-Pass-2026!xy"  # one Update, carrying the latest password

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["password", "reset", name, "--stdin"]) == 2  # refused by AD: the key keeps it
    assert desk.stored() == "Own-Pass-2026!xy"


def test_sync_run_withdraws_keys_and_exits_1_when_one_stays(world, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, conn, group, prefix, _ = world
    dns = {short: _user(conn, group, f"{prefix}{short}") for short in ("ivy", "jon")}
    assert main(["sync", "run"]) == 0
    runtime = _runtime(path)
    vault = build_vault_service(runtime)
    serials = {}
    for number, short in enumerate(dns, start=1):
        employee = runtime.employees.get_by_username(f"{prefix}{short}")
        assert employee is not None
        serials[short] = f"ST{prefix[1:-1].upper()}{number}"
        mac = f"AA:BB:{prefix[1:3]}:{prefix[3:5]}:{prefix[5:7]}:0{number}".upper()
        key = KeyImport(serials[short], mac, "Hideez Key 4", "4.0.1")
        vault.import_keys(actor=CLI, keys=[key])
        vault.assign(actor=CLI, serial=serials[short], employee_id=employee.id)
    disabled = ad.NO_PASSWORD_ACCOUNT | ad.ACCOUNTDISABLE
    capsys.readouterr()

    ad.set_attributes(conn, dns["ivy"], userAccountControl=disabled)
    assert main(["sync", "run"]) == 0
    assert f"key withdrawn     {serials['ivy']} ({prefix}ivy)" in capsys.readouterr().out
    assert vault.show_key(serial=serials["ivy"]).status is VaultStatus.DEACTIVATED

    text = path.read_text().splitlines()
    path.write_text("\n".join(line for line in text if "master_key" not in line))
    monkeypatch.delenv("HIDEEZ_IDP_MASTER_KEY", raising=False)
    ad.set_attributes(conn, dns["jon"], userAccountControl=disabled)
    assert main(["sync", "run"]) == 1  # the sync finished; one key is still out there
    out = capsys.readouterr().out
    assert f"disable           {prefix}jon" in out
    assert f"key NOT withdrawn {serials['jon']} ({prefix}jon): unlock the server's secrets" in out
    assert f"'hideez-idp key deactivate {serials['jon']} --reason withdrawal'" in out
    assert vault.show_key(serial=serials["jon"]).status is VaultStatus.RESERVED
