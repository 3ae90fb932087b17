"""``hideez-idp admin-user set-password|totp-enable|totp-disable|recovery-codes|unlock``
through ``main()`` against a temporary database, then the sign-in they make possible."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyotp
import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.admin.services import AdminServices, build_admin_services
from idp.admin.signin import AdminSignIn, AdminSignInRejected, SecondFactorMissing, sign_in
from idp.audit import AuditKind
from idp.config.loader import load_config
from idp.factors.password_errors import AccountLocked
from idp.runtime import Runtime, build_runtime

PASSWORD = "a long console passphrase 3"


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    path = prepare(tmp_path / "demo", port=18082, sp_port=18083)
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(path))
    assert main(["employee", "add", "ann", "--email", "ann@example.com"]) == 0
    assert main(["admin-user", "add", "ann", "--role", "admin"]) == 0
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    assert main(["admin-user", "set-password", "ann", "--password-file", str(tmp_path / "pw")]) == 0
    return build_runtime(load_config(path))


@pytest.fixture
def svc(runtime: Runtime) -> AdminServices:
    return build_admin_services(runtime)


def _enable(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    capsys.readouterr()
    assert main(["admin-user", "totp-enable", "ann"]) == 0
    out = capsys.readouterr().out
    secret = re.search(r"secret: ([A-Z2-7]{32})\n", out)
    assert secret is not None
    assert f"otpauth://totp/Hideez%20IdP%20admin:ann?secret={secret.group(1)}" in out
    return secret.group(1), re.findall(r"^  ([a-z2-9]{8})$", out, re.M)


def _attempt(svc: AdminServices, code: str, at: dt.datetime | None = None) -> AdminSignIn:
    return sign_in(stores=svc.signin, username="ann", password=PASSWORD, code=code,
                   client_ip="cli-test", now=at or dt.datetime.now(dt.UTC))  # fmt: skip


def test_totp_enable_disable_reenable_and_recovery_codes(
    svc: AdminServices, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SecondFactorMissing):
        _attempt(svc, "123456")
    secret, codes = _enable(capsys)
    assert len(codes) == 10
    assert _attempt(svc, pyotp.TOTP(secret).now()).employee.username == "ann"
    assert main(["admin-user", "totp-enable", "ann"]) == 2  # on already: disable first
    assert "totp-disable first" in capsys.readouterr().err
    assert main(["admin-user", "totp-disable", "ann"]) == 0
    assert main(["admin-user", "totp-disable", "ann"]) == 2
    new_secret, new_codes = _enable(capsys)
    assert new_secret != secret and not set(new_codes) & set(codes)
    with pytest.raises(AdminSignInRejected):
        _attempt(svc, codes[0])  # the old codes went with the old secret
    assert main(["admin-user", "recovery-codes", "ann"]) == 0
    fresh = re.findall(r"^  ([a-z2-9]{8})$", capsys.readouterr().out, re.M)
    assert len(fresh) == 10
    with pytest.raises(AdminSignInRejected):
        _attempt(svc, new_codes[0])
    assert _attempt(svc, fresh[0]).recovery_codes_left == 9
    actions = [
        e.details["action"] for e in svc.audit._rt.audit.list(kind=AuditKind.ADMIN_CHANGE).items
    ]
    assert {"admin_password_set", "admin_totp_enabled", "admin_totp_disabled",
            "admin_recovery_codes"} <= set(actions)  # fmt: skip


def test_unlock_and_refusals(
    svc: AdminServices, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret, _ = _enable(capsys)
    now = dt.datetime.now(dt.UTC)
    for _ in range(10):
        with pytest.raises(AdminSignInRejected):
            _attempt(svc, "000000", now)
    with pytest.raises(AccountLocked):
        _attempt(svc, pyotp.TOTP(secret).now())
    assert main(["admin-user", "unlock", "ann"]) == 0
    assert "ann unlocked" in capsys.readouterr().out
    assert _attempt(svc, pyotp.TOTP(secret).now()).employee.username == "ann"
    assert main(["admin-user", "unlock", "ann"]) == 0
    assert "was not locked" in capsys.readouterr().out
    (tmp_path / "short").write_text("short\n")
    assert (
        main(["admin-user", "set-password", "ann", "--password-file", str(tmp_path / "short")]) == 2
    )
    assert "at least" in capsys.readouterr().err
    assert main(["admin-user", "totp-enable", "nobody"]) == 2
    assert "has no admin account" in capsys.readouterr().err
