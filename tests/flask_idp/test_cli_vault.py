"""``hideez-idp key|key-profile|key-account|key-template …`` through ``main()`` against the
demo configuration's SQLite database: the admin's whole day with keys, and every hostile
input refused with exit status 2 and one ``error:`` line (no traceback, nothing stored)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.audit import AuditKind, Outcome
from idp.config.loader import load_config
from idp.factors.password import hash_password
from idp.runtime import build_runtime
from idp.vault.model import PlanKind, Reported, TaskKind
from idp.vault.service import build_vault_service

CSV = "serial,mac,model,firmware\nST20001,AA:BB:CC:00:10:01,Hideez Key 4,4.0.1\n"
PASSWORD = "correct horse battery staple"
OTP_URI = "otpauth://totp/Corp:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Corp"


def _prepared(directory: Path) -> Path:
    path = prepare(directory / "demo", port=18080, sp_port=18081)
    os.environ["HIDEEZ_IDP_CONFIG"] = str(path)
    for name in ("alice", "bob"):
        assert main(["employee", "add", name, "--email", f"{name}@corp.example"]) == 0
    (directory / "keys.csv").write_text(CSV)
    assert main(["key", "import", "--csv", str(directory / "keys.csv")]) == 0
    assert main(["key", "import", "--key", "ST20002,aa:bb:cc:00:10:02,Hideez Key 4,4.0.1"]) == 0
    return path


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", "")  # restored after the test
    return _prepared(tmp_path)


@pytest.fixture(scope="module")
def shared_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One server for the refusals: each leaves it as it was (the tests check that)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HIDEEZ_IDP_CONFIG", "")
        yield _prepared(tmp_path_factory.mktemp("cli-vault"))


def _out(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    return json.loads(_out(capsys, *args, "--json"))


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("error: ")
    return line


def _file(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content + "\n")
    return str(path)


def _link(config: Path, serial: str, code: str) -> None:
    """What the driver does at the first connection (the BLE side is key-ble's)."""
    runtime = build_runtime(load_config(config))
    try:
        service = build_vault_service(runtime)
        plan = service.connection_plan(serial=serial, reported=Reported(linked=False, locked=False))
        assert plan.kind is PlanKind.LINK
        service.check_activation_code(serial=serial, code=code)
        service.linked(serial=serial)
    finally:
        runtime.close()


def test_an_admins_day_with_keys(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _json(capsys, "key", "list")
    assert [(k["serial"], k["status"]) for k in keys] == [
        ("ST20001", "ready"),
        ("ST20002", "ready"),
    ]
    assert _json(capsys, "key", "list", "--status", "active") == []

    out = _out(capsys, "key-profile", "add", "Strict", "--connection", "button,pin",
               "--pin-length", "6", "--pin-expiry-hours", "8", "--pin-attempts", "5")  # fmt: skip
    assert "access profile Strict added" in out
    _out(capsys, "key-profile", "edit", "strict", "--storage", "pin", "--rename", "Strict PIN")
    profiles = {p["name"]: p for p in _json(capsys, "key-profile", "list")}
    assert profiles["Default"]["pairing"] == {"button": True, "pin": False, "master_key": True}
    assert profiles["Default"]["pin_length"] == 4 and profiles["Default"]["pin_attempts"] == 10
    strict = profiles["Strict PIN"]
    assert strict["connection"] == {"button": True, "pin": True, "master_key": False}
    assert (strict["pin_length"], strict["pin_expiry"], strict["pin_attempts"]) == (6, 28800, 5)
    assert "Strict PIN" in _out(capsys, "key-profile", "list")

    _out(capsys, "key-template", "add", "GitHub", "--url", "GitHub.com.", "--app", "GitHub Desktop")
    assert _json(capsys, "key-template", "list")[0]["urls"] == ["https://github.com"]
    pw = _file(tmp_path, "pw", "s3cret!")
    out = _out(capsys, "key-account", "add", "--employee", "alice", "--template", "github",
               "--login", "alice-gh", "--password-file", pw)  # fmt: skip
    github = out.split()[1]
    out = _out(capsys, "key-template", "edit", "github", "--rename", "GitHub EMU", "--no-urls",
               "--app", "GitHub Desktop", "--app", "gh")  # fmt: skip
    assert out == "template GitHub EMU changed: GitHub Desktop gh\n"
    (template,) = _json(capsys, "key-template", "list")
    assert (template["name"], template["urls"]) == ("GitHub EMU", [])
    refused = _refused(capsys, "key-template", "edit", "github emu", "--no-apps")
    assert "at least one URL or app" in refused
    assert _json(capsys, "key-template", "list") == [template]
    out = _out(capsys, "key-account", "add", "--employee", "alice", "--name", "PC",
               "--type", "domain", "--login", "corp\\alice", "--skip-password")  # fmt: skip
    pc = out.split()[1]
    _out(capsys, "key-account", "primary", pc)
    _out(capsys, "key-account", "otp", github, "--otp-file", _file(tmp_path, "otp", OTP_URI))
    accounts = {a["name"]: a for a in _json(capsys, "key-account", "list", "--employee", "alice")}
    assert accounts["PC"]["login"] == "CORP\\alice" and accounts["PC"]["primary"]
    assert accounts["GitHub"]["has_otp"] and accounts["GitHub"]["has_password"]
    listed = _out(capsys, "key-account", "list", "--employee", "alice")
    assert "s3cret" not in listed and "JBSWY3DP" not in listed and "primary" in listed

    out = _out(capsys, "key", "assign", "ST20001", "--employee", "alice")
    code = out.strip().rsplit(" ", 1)[1]
    assert len(code) == 6 and code.isdigit()
    assert [k["serial"] for k in _json(capsys, "key", "list", "--search", "ALICE")] == ["ST20001"]
    assert _json(capsys, "key", "list", "--search", "bob") == []
    shown = _json(capsys, "key", "show", "ST20001", "--code")
    assert shown["status"] == "reserved" and shown["activation_code"] == code
    assert "master_key" not in json.dumps(shown).replace("has_master_key", "")
    _out(capsys, "key", "profile", "ST20001", "strict pin")
    _link(config, "ST20001", code)

    _out(capsys, "key-account", "password", github, "--password-file", _file(tmp_path, "n", "n3w"))
    out = _out(capsys, "key-account", "add", "--shared", "--name", "Wi-Fi portal",
               "--login", "team", "--url", "wifi.corp", "--password-file", pw)  # fmt: skip
    shared = out.split()[1]
    _out(capsys, "key-account", "share", shared, "--employee", "alice")
    out = _out(capsys, "key-account", "edit", shared, "--shared", "--login", "team2")
    assert "queued for 1 key(s)" in out
    assert [a["login"] for a in _json(capsys, "key-account", "list", "--shared")] == ["team2"]

    runtime = build_runtime(load_config(config))
    try:
        tasks = build_vault_service(runtime).pending_tasks(serial="ST20001")
    finally:
        runtime.close()
    kinds = [(t.kind, t.account.name if t.account else t.account_id) for t in tasks]
    assert kinds[0] == (TaskKind.PROFILE, None)
    assert kinds[1:3] == [(TaskKind.CREATE, "PC"), (TaskKind.PRIMARY, pc)]
    by_name = {t.account.name: t.account for t in tasks if t.account}
    assert by_name["GitHub"].password == "n3w"
    assert by_name["GitHub"].otp_secret == "JBSWY3DPEHPK3PXPJBSWY3DP"
    assert by_name["Wi-Fi portal"].login == "team2"

    assert "new activation code" in _out(capsys, "key", "suspend", "ST20001")
    _out(capsys, "key", "deactivate", "ST20001", "--reason", "lost")
    assert _json(capsys, "key", "show", "ST20001")["reason"] == "lost"
    assert _json(capsys, "key-account", "list", "--employee", "alice") == []
    _out(capsys, "key-template", "delete", "github emu")
    _out(capsys, "key-account", "delete", shared, "--shared")
    # a deactivated key keeps its profile until it is wiped: the profile is still in use
    assert "is used by 1 key(s), e.g. ST20001" in _refused(
        capsys, "key-profile", "delete", "Strict PIN"
    )


def test_compromise_needs_an_admin_who_re_enters_their_password(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, role in (("sec", "helpdesk"), ("aud", "auditor")):
        _out(capsys, "employee", "add", name, "--email", f"{name}@corp.example",
             "--sso-mode", "two_factor")  # fmt: skip
        _out(capsys, "admin-user", "add", name, "--role", role)
    runtime = build_runtime(load_config(config))
    try:
        for name in ("sec", "aud", "bob"):
            employee = runtime.employees.get_by_username(name)
            assert employee is not None
            stored = hash_password(password=PASSWORD, params=runtime.password_params)
            runtime.passwords.set(employee.id, password_hash=stored, now=runtime.now())
    finally:
        runtime.close()
    right, wrong = _file(tmp_path, "right", PASSWORD), _file(tmp_path, "wrong", "not it")
    with pytest.raises(SystemExit):  # no --admin: the bare operator may not
        main(["key", "compromise", "ST20002"])
    for who, password, message in (
        ("bob", right, "'bob' is no admin or helpdesk account"),  # an employee, not an admin
        ("aud", right, "'aud' is no admin or helpdesk account"),  # auditors only read
        ("mallory", right, "'mallory' is no admin or helpdesk account"),
        ("sec", wrong, "password"),
    ):
        refused = _refused(capsys, "key", "compromise", "ST20002", "--admin", who,
                           "--password-file", password)  # fmt: skip
        assert message in refused, refused
    assert _json(capsys, "key", "show", "ST20002")["status"] == "ready"
    out = _out(capsys, "key", "compromise", "st20002", "--admin", "sec", "--password-file", right)
    assert out == "ST20002 marked compromised by sec: every connection is refused\n"
    assert _json(capsys, "key", "show", "ST20002")["status"] == "compromised"
    assert "compromised" in _out(capsys, "key", "list", "--status", "compromised")
    runtime = build_runtime(load_config(config))
    try:
        events = runtime.audit.list(kind=AuditKind.VAULT_STATUS_CHANGED, newest_first=False)
    finally:
        runtime.close()
    tried = [(e.actor, e.outcome) for e in events.items if e.details.get("serial") == "ST20002"
             and e.details.get("action") == "compromise"]  # fmt: skip
    failed = [("admin:bob", Outcome.FAILURE), ("admin:aud", Outcome.FAILURE),
              ("admin:mallory", Outcome.FAILURE), ("admin:sec", Outcome.FAILURE)]  # fmt: skip
    assert tried == [*failed, ("admin:sec", Outcome.SUCCESS)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["key", "show", "ST;DROP"], "no key with serial"),
        (["key", "import", "--key", "bad serial!,AA:BB:CC:00:00:09,m,1"], "a key serial is"),
        (["key", "import", "--key", "ST30001,AA:BB:CC:00:10:01,m,1"], "already imported"),
        (["key", "import", "--key", "ST30001,AA"], "SERIAL,MAC,MODEL,FIRMWARE"),
        (
            ["key", "import", "--key", "ST30001,AA:BB:CC:00:20:01," + "m" * 300 + ",1"],
            "at most 255",
        ),
        (["key", "import"], "give --csv FILE or at least one --key"),
        (["key", "import", "--csv", "/nonexistent.csv"], "cannot read"),
        (["key", "cancel", "ST20001"], "'cancel' is not allowed for a key that is ready"),
        (["key", "suspend", "ST20001"], "'suspend' is not allowed for a key that is ready"),
        (["key", "assign", "ST20001", "--employee", "mallory"], "no employee 'mallory'"),
        (["key", "profile", "ST20001", "nope"], "no access profile named 'nope'"),
        (["key-profile", "delete", "default"], "cannot be deleted"),
        (["key-profile", "add", "Default"], "named 'Default' exists"),
        (["key-profile", "add", "X", "--pairing", "fingerprint"], "unknown requirement"),
        (["key-profile", "add", "X", "--pin-length", "3"], "PIN length is 4-8"),
        (["key-profile", "add", "X", "--pin-expiry-hours", "-1"], "--pin-expiry-hours"),
        (
            ["key-account", "add", "--employee", "alice", "--name", "n", "--login", "l"],
            "give the account a password, or mark it skip-password",
        ),
        (
            ["key-account", "add", "--employee", "nobody", "--name", "n", "--login", "l"],
            "no employee 'nobody'",
        ),
        (
            [
                "key-account",
                "add",
                "--employee",
                "alice",
                "--name",
                "n" * 300,
                "--login",
                "l",
                "--skip-password",
            ],
            "at most 255",
        ),
        (
            [
                "key-account",
                "add",
                "--employee",
                "alice",
                "--name",
                "n",
                "--login",
                "alice",
                "--type",
                "domain",
                "--skip-password",
            ],
            "DOMAIN\\login",
        ),
        (["key-account", "primary", "missing"], "no account 'missing'"),
        (["key-account", "otp", "missing", "--remove"], "no account 'missing'"),
        (["key-template", "add", "Empty"], "at least one URL or app"),
        (["key-template", "delete", "nope"], "no account template named 'nope'"),
        (["key-template", "edit", "nope", "--app", "x"], "no account template named 'nope'"),
    ],
)
def test_hostile_input_is_refused_clearly(
    shared_config: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = _json(capsys, "key", "list")
    assert message in _refused(capsys, *args)
    assert _json(capsys, "key", "list") == before


def test_a_bad_otp_secret_is_refused(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pw = _file(tmp_path, "pw", "pw")
    account = _out(capsys, "key-account", "add", "--employee", "bob", "--name", "n",
                   "--login", "l", "--password-file", pw).split()[1]  # fmt: skip
    for content, message in (("not base32!", "not base32"), ("JBSWY3DP", "at least 10 bytes")):
        line = _refused(capsys, "key-account", "otp", account, "--otp-file",
                        _file(tmp_path, "otp", content))  # fmt: skip
        assert message in line
    assert not _json(capsys, "key-account", "list", "--employee", "bob")[0]["has_otp"]


def test_locked_secrets_refuse_every_key_command(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = config.read_text()
    config.write_text("\n".join(line for line in text.splitlines() if "master_key" not in line))
    monkeypatch.delenv("HIDEEZ_IDP_MASTER_KEY", raising=False)
    for args in (
        ["key", "list"],
        ["key", "assign", "ST20001", "--employee", "alice"],
        ["key-profile", "list"],
        ["key-account", "list", "--employee", "alice"],
        ["key-template", "add", "T", "--url", "x.com"],
    ):
        assert "unlock the server's secrets first" in _refused(capsys, *args)
