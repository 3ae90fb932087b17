"""``hideez-idp employee list|show|edit|disable|enable|delete|sessions|end-sessions``,
``passkey list|revoke``, ``admin-user …`` and ``api-key …`` through ``main()``, against a
temporary database and the real Redis (sessions must be seen across processes)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.audit import AuditKind
from idp.config.loader import load_config
from idp.factors.kinds import FactorKind, FactorUse
from idp.factors.registry import PasskeyCredential
from idp.runtime import Runtime, build_runtime
from tests.conftest import REDIS_URL


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _redis_prefix: str) -> Path:
    path = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    prefix = f"{_redis_prefix}cli-{secrets.token_hex(4)}:"
    path.write_text(
        path.read_text().replace(
            "ephemeral_url: memory://", f"ephemeral_url: '{REDIS_URL}?prefix={prefix}'"
        )
    )
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(path))
    for name in ("alice", "bob", "carol"):
        assert (
            main(
                [
                    "employee",
                    "add",
                    name,
                    "--email",
                    f"{name}@example.com",
                    "--last-name",
                    name.title(),
                ]
            )
            == 0
        )
    return path


@pytest.fixture
def runtime(config: Path) -> Runtime:
    return build_runtime(load_config(config))


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


pytestmark = pytest.mark.redis


def test_list_filters_sorts_and_pages(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = _json(capsys, "employee", "list", "--sort=-username", "--limit", "2")
    assert [e["username"] for e in page["items"]] == ["carol", "bob"]
    rest = _json(
        capsys,
        "employee",
        "list",
        "--sort=-username",
        "--limit",
        "2",
        "--cursor",
        page["next_cursor"],
    )
    assert [e["username"] for e in rest["items"]] == ["alice"] and rest["next_cursor"] is None
    assert main(["employee", "disable", "bob"]) == 0
    disabled = _json(capsys, "employee", "list", "--disabled")
    assert [e["username"] for e in disabled["items"]] == ["bob"]
    capsys.readouterr()
    assert main(["employee", "list", "--limit", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[0] == "alice" and out[-1].startswith("(1 employee; more with --cursor ")


def test_bad_list_options_are_clear(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["employee", "list", "--sort", "password"]) == 2
    assert "sort:" in capsys.readouterr().err
    assert main(["employee", "list", "--cursor", "not-a-cursor"]) == 2
    assert "cursor: not a cursor this API issued" in capsys.readouterr().err


def test_show_edit_disable_enable(
    config: Path, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["employee", "edit", "alice", "--first-name", "Alice", "--phone", "+1 555 0100"]) == 0
    )
    shown = _json(capsys, "employee", "show", "alice")
    assert (shown["first_name"], shown["phone"]) == ("Alice", "+1 555 0100")
    alice = runtime.employees.get_by_username("alice")
    assert alice is not None
    session = runtime.sessions.create(
        employee_id=alice.id, now=runtime.now(), factors=_uses(runtime)
    )
    assert main(["employee", "disable", "alice"]) == 0
    assert "alice: disabled" in capsys.readouterr().out
    assert runtime.sessions.get(session.session_id, now=runtime.now()) is None
    assert main(["employee", "enable", "alice"]) == 0
    events = runtime.audit.list(employee_id=alice.id, limit=3).items
    assert [e.kind for e in events] == [
        AuditKind.EMPLOYEE_ENABLED,
        AuditKind.SESSION_ENDED,  # the one sign-out plan, with the admin named
        AuditKind.EMPLOYEE_DISABLED,
    ]
    assert (events[1].actor, events[1].reason) == ("cli", "employee_disabled")
    again = runtime.sessions.create(employee_id=alice.id, now=runtime.now(), factors=_uses(runtime))
    assert main(["employee", "edit", "alice", "--disable"]) == 0  # the same sign-out
    assert "ended 1 session of alice" in capsys.readouterr().out
    assert runtime.sessions.get(again.session_id, now=runtime.now()) is None
    assert main(["employee", "edit", "alice", "--email", "notanemail"]) == 2
    assert "expected an e-mail address" in capsys.readouterr().err


def test_sessions_and_end_sessions(
    config: Path, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    bob = runtime.employees.get_by_username("bob")
    assert bob is not None
    one, two = (
        runtime.sessions.create(employee_id=bob.id, now=runtime.now(), factors=_uses(runtime))
        for _ in range(2)
    )
    sessions = _json(capsys, "employee", "sessions", "bob")
    assert len(sessions) == 2 and one.session_id not in json.dumps(sessions)
    assert main(["employee", "end-sessions", "bob", f"--session={sessions[0]['handle']}"]) == 0
    assert "ended 1 session of bob" in capsys.readouterr().out
    assert main(["employee", "end-sessions", "bob"]) == 0
    assert "ended 1 session of bob" in capsys.readouterr().out
    assert all(runtime.sessions.get(s.session_id, now=runtime.now()) is None for s in (one, two))
    assert main(["employee", "end-sessions", "bob", "--session", "nope"]) == 2


def test_passkey_list_and_revoke(
    config: Path, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    carol = runtime.employees.get_by_username("carol")
    assert carol is not None
    credential = _passkey(runtime, carol.id)
    listed = _json(capsys, "passkey", "list", "carol")
    assert [p["credential_id"] for p in listed] == [credential]
    assert main(["passkey", "revoke", "carol", credential]) == 0
    assert runtime.passkeys.get(credential) is None
    assert main(["passkey", "revoke", "carol", credential]) == 2
    assert "has no passkey" in capsys.readouterr().err


def test_passkey_revoke_an_id_that_begins_with_a_dash(
    config: Path, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    carol = runtime.employees.get_by_username("carol")
    assert carol is not None
    dashed, other = (_passkey(runtime, carol.id, "-" + secrets.token_urlsafe(16)) for _ in "12")
    assert main(["passkey", "revoke", "carol", f"--credential-id={dashed}"]) == 0
    assert runtime.passkeys.get(dashed) is None
    assert main(["passkey", "revoke", "carol", "--", other]) == 0
    assert runtime.passkeys.get(other) is None
    for argv in (["carol"], ["carol", "abc", "--credential-id=abc"], ["carol", dashed]):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(["passkey", "revoke", *argv])
        assert exited.value.code == 2
        assert "CREDENTIAL_ID" in capsys.readouterr().err


def test_delete_needs_yes(
    config: Path, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["employee", "delete", "carol"]) == 2
    assert "add --yes to confirm" in capsys.readouterr().err
    assert runtime.employees.get_by_username("carol") is not None
    assert main(["employee", "delete", "carol", "--yes"]) == 0
    assert runtime.employees.get_by_username("carol") is None
    assert main(["employee", "show", "carol"]) == 2


def test_admin_users_and_api_keys(
    config: Path, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["admin-user", "add", "alice", "--role", "admin"]) == 0
    assert main(["admin-user", "add", "bob", "--role", "helpdesk"]) == 0
    assert main(["admin-user", "add", "bob", "--role", "auditor"]) == 2
    assert "already has an admin account" in capsys.readouterr().err
    admins = _json(capsys, "admin-user", "list")
    assert {(a["username"], a["role"]) for a in admins} == {("alice", "admin"), ("bob", "helpdesk")}
    # the last admin keeps the role; an employee who is an admin cannot be deleted
    assert main(["admin-user", "set-role", "alice", "auditor"]) == 2
    assert "last account with the admin role" in capsys.readouterr().err
    assert main(["employee", "delete", "alice", "--yes"]) == 2
    assert "remove it first" in capsys.readouterr().err
    capsys.readouterr()
    assert (
        main(
            [
                "api-key",
                "create",
                "--admin",
                "bob",
                "--name",
                "sync job",
                "--scope",
                "employees:read",
                "--days",
                "30",
            ]
        )
        == 0
    )
    secret = capsys.readouterr().out.splitlines()[-1]
    assert secret.startswith("hik_")
    keys = _json(capsys, "api-key", "list")
    assert [k["scopes"] for k in keys] == [["employees:read"]] and secret not in json.dumps(keys)
    # beyond the owner's role: refused with the reason
    assert main(["api-key", "create", "--admin", "bob", "--name", "x", "--scope", "secrets"]) == 2
    assert "scopes: beyond what the key's owner" in capsys.readouterr().err
    assert (
        main(
            [
                "api-key",
                "create",
                "--admin",
                "bob",
                "--name",
                "x",
                "--scope",
                "employees:read",
                "--days",
                "0",
            ]
        )
        == 2
    )
    assert "expires_in_days" in capsys.readouterr().err
    assert main(["api-key", "revoke", keys[0]["id"]]) == 0
    assert _json(capsys, "api-key", "list")[0]["revoked_at"] is not None
    assert main(["admin-user", "remove", "bob"]) == 0
    assert _json(capsys, "api-key", "list") == []  # the keys went with the account


def _uses(runtime: Runtime) -> tuple[FactorUse, ...]:
    return (
        FactorUse(
            kind=FactorKind.PASSKEY,
            credential_id="c",
            at=runtime.now(),
            user_verified=True,
            amr=("hwk",),
        ),
    )


def _passkey(runtime: Runtime, employee_id: str, credential_id: str | None = None) -> str:
    credential_id = credential_id or secrets.token_urlsafe(16)
    runtime.passkeys.add(
        PasskeyCredential(
            credential_id=credential_id,
            employee_id=employee_id,
            public_key=b"k",
            sign_count=0,
            aaguid="0" * 36,
            transports=("usb",),
            backup_eligible=False,
            backed_up=False,
            user_verified=True,
            attestation_format="none",
            name="Key",
            created_at=runtime.now(),
        )
    )
    return credential_id


def test_unlock_a_password_lock(
    config: Path, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    from idp.factors.password import hash_password

    assert main(["employee", "edit", "bob", "--sso-mode", "two_factor"]) == 0
    bob = runtime.employees.get_by_username("bob")
    assert bob is not None
    runtime.passwords.set(
        bob.id,
        password_hash=hash_password(
            password="correct horse battery", params=runtime.password_params
        ),
        now=runtime.now(),
    )
    for _ in range(10):
        runtime.passwords.record_failure(
            bob.id, now=runtime.now(), max_failures=10, lock_for=dt.timedelta(minutes=15)
        )
    capsys.readouterr()
    assert main(["employee", "unlock", "bob"]) == 0
    assert capsys.readouterr().out.strip() == "bob: unlocked"
    stored = runtime.passwords.get(bob.id)
    assert stored is not None and stored.locked_until is None
    assert main(["employee", "unlock", "bob"]) == 0
    assert "was not locked" in capsys.readouterr().out
    assert main(["employee", "unlock", "alice"]) == 0
    assert "has no password" in capsys.readouterr().out
