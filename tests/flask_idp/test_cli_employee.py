"""``hideez-idp employee add|update|show|list`` through ``main()``, as an admin types them."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.audit import AuditKind
from idp.config.loader import load_config
from idp.directory.model import Employee, SsoMode
from idp.runtime import Runtime, build_runtime

OID = "6f1c3e52-1b0d-4a9e-9a4c-2d1f0e5b7c31"
TID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(path))  # the commands below give no --config
    assert main(["employee", "add", "alice", "--email", "alice@example.com"]) == 0
    return path


def _runtime(config: Path) -> Runtime:
    return build_runtime(load_config(config))


def _alice(config: Path) -> Employee:
    employee = _runtime(config).employees.get_by_username("alice")
    assert employee is not None
    return employee


def test_update_sets_every_field_and_audits_which_changed(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "employee", "update", "alice", "--email", "a.andersen@example.com",
        "--first-name", "Alice", "--last-name", "Andersen", "--phone", "+44 20 7946 0958",
        "--entra-object-id", OID.upper(), "--entra-tenant-id", TID,
        "--ad-object-sid", "S-1-5-21-1004336348-1177238915-682003330-1105",
        "--ad-object-guid", "11111111-2222-3333-4444-555555555555",
        "--upn", "alice@corp.example", "--external-id", "github_login=alice-gh",
        "--sso-mode", "two_factor",
    ]  # fmt: skip
    assert main(args) == 0
    assert "updated alice: " in capsys.readouterr().out
    alice = _alice(config)
    assert (alice.email, alice.full_name, alice.phone) == (
        "a.andersen@example.com", "Alice Andersen", "+44 20 7946 0958")  # fmt: skip
    assert (alice.entra_object_id, alice.entra_tenant_id) == (OID, TID)  # GUIDs lower-cased
    assert alice.ad_object_sid == "S-1-5-21-1004336348-1177238915-682003330-1105"
    assert alice.ad_object_guid == "11111111-2222-3333-4444-555555555555"
    assert alice.external_ids == {"upn": "alice@corp.example", "github_login": "alice-gh"}
    assert alice.sso_mode is SsoMode.TWO_FACTOR
    event = _runtime(config).audit.list(kind=AuditKind.EMPLOYEE_UPDATED).items[0]
    assert event.actor == "cli" and event.employee_id == alice.id
    assert event.details["username"] == "alice"
    assert event.details["fields"].split(",") == sorted(
        ["email", "first_name", "last_name", "phone", "entra_object_id", "entra_tenant_id",
         "ad_object_sid", "ad_object_guid", "external_ids.upn", "external_ids.github_login",
         "sso_mode"]
    )  # fmt: skip
    # identifiers are not secrets: their values are in the audit; personal data is not
    assert event.details["external_ids.github_login"] == "alice-gh"
    assert event.details["entra_object_id"] == OID
    assert "a.andersen@example.com" not in str(dict(event.details))


def test_external_id_with_empty_value_removes_it_and_unchanged_is_not_audited(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["employee", "update", "alice", "--external-id", "github_login=gh"]) == 0
    assert main(["employee", "update", "alice", "--external-id", "github_login=gh"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert main(["employee", "update", "alice", "--external-id", "github_login=",
                 "--phone", ""]) == 0  # fmt: skip
    assert _alice(config).external_ids == {}
    events = _runtime(config).audit.list(kind=AuditKind.EMPLOYEE_UPDATED).items
    assert [e.details["fields"] for e in events] == ["external_ids.github_login"] * 2


def test_disable_and_enable_are_their_own_audit_events(config: Path) -> None:
    assert main(["employee", "update", "alice", "--disable"]) == 0
    assert not _alice(config).enabled
    assert main(["employee", "update", "alice", "--enable"]) == 0
    assert _alice(config).enabled
    kinds = [e.kind for e in _runtime(config).audit.list(limit=4).items]
    # --disable signs the employee out everywhere, as ``employee disable`` does
    assert kinds == [AuditKind.EMPLOYEE_ENABLED, AuditKind.SESSION_ENDED,
                     AuditKind.EMPLOYEE_DISABLED, AuditKind.EMPLOYEE_CREATED]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-address"], "--email: expected an e-mail address"),
        (["--entra-object-id", "1234"], "--entra-object-id: expected a GUID"),
        (["--entra-tenant-id", "contoso.onmicrosoft.com"], "--entra-tenant-id: expected a GUID"),
        (["--ad-object-sid", "S-1"], "--ad-object-sid: expected a SID"),
        (["--ad-object-guid", "{bad}"], "--ad-object-guid: expected a GUID"),
        (["--upn", "alice"], "--upn: expected a user principal name"),
        (["--phone", "call me"], "--phone: expected a phone number"),
        (["--first-name", "A\x07"], "--first-name: expected at most 100 printable"),
        (["--external-id", "github_login"], "--external-id: expected NAME=VALUE"),
        (["--external-id", "GitHub=x"], "--external-id: NAME must be 1-64 of a-z"),
        (["--external-id", "entra_object_id=x"], "use --entra-object-id"),
        (["--external-id", "a=1", "--external-id", "a=2"], "'a' is given twice"),
    ],
)
def test_bad_input_exits_2_naming_the_option_and_stores_nothing(
    config: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = _alice(config)
    # a valid change given together with the bad one must not be stored either
    assert main(["employee", "update", "alice", "--last-name", "Changed", *args]) == 2
    assert message in capsys.readouterr().err
    assert _alice(config) == before
    assert _runtime(config).audit.list(kind=AuditKind.EMPLOYEE_UPDATED).total == 0


def test_bad_sso_mode_and_both_switches_are_refused_by_the_parser(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["--sso-mode", "password"], ["--enable", "--disable"]):
        with pytest.raises(SystemExit) as exited:
            main(["employee", "update", "alice", *args])
        assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'password'" in err and "not allowed with argument" in err


def test_a_directory_id_owned_by_another_employee_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["employee", "add", "bob", "--email", "bob@example.com",
                 "--entra-object-id", OID]) == 0  # fmt: skip
    assert main(["employee", "update", "alice", "--entra-object-id", OID]) == 2
    assert "already belongs to employee" in capsys.readouterr().err
    assert _alice(config).entra_object_id is None


def test_unknown_employee_and_duplicate_add(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["employee", "update", "nobody", "--phone", "+1 555 0100"]) == 2
    assert "no employee with username 'nobody'" in capsys.readouterr().err
    assert main(["employee", "show", "nobody"]) == 2
    assert main(["employee", "add", "ALICE", "--email", "other@example.com"]) == 2
    assert "already belongs to employee" in capsys.readouterr().err
    assert main(["employee", "add", "bad name", "--email", "x@example.com"]) == 2
    assert "username: expected" in capsys.readouterr().err


def test_created_event_names_the_employee(config: Path) -> None:
    event = _runtime(config).audit.list(kind=AuditKind.EMPLOYEE_CREATED).items[0]
    assert event.details["username"] == "alice"
    assert event.employee_id == _alice(config).id


def test_show_and_list(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["employee", "add", "bob", "--email", "bob@example.com", "--first-name", "Bob"])
    main(["employee", "update", "alice", "--upn", "alice@corp.example"])
    capsys.readouterr()
    assert main(["employee", "show", "alice"]) == 0
    shown = capsys.readouterr().out
    assert "username:             alice" in shown
    assert "external id upn:      alice@corp.example" in shown
    assert "sso mode:             passwordless" in shown
    assert main(["employee", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["USERNAME", "EMAIL", "NAME", "SSO", "MODE", "ENABLED"]
    assert [line.split()[0] for line in lines[1:3]] == ["alice", "bob"]
    assert lines[-1] == "(2 employees)"
    assert main(["employee", "list", "--search", "bob"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "(1 employee)"
