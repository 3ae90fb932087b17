"""What the administrator and the employee do with apps and TOTP: "this wasn't me" (audited,
counted, SSO suspended by policy), ``hideez-idp device …`` through the CLI's own ``main``,
re-enrolment replacing the device, and removal from the account page."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from flask_idp.cli import main
from idp.audit import AuditKind
from idp.factors.kinds import FactorKind, FactorUse
from tests.e2e.authenticator.helpers import Browserless, enrolled_app, new_person
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(app_server: RunningServer) -> RunningServer:
    return app_server


def cli(server: RunningServer, *args: str) -> int:
    return main(["device", *args, "--config", str(server.config_path)])


def test_not_me_is_audited_counted_ends_sessions_and_suspends_sso(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bob = new_person(server)
    app = enrolled_app(server, bob, tmp_path)
    rt = server.runtime
    use = FactorUse(FactorKind.AUTHENTICATOR_APP, "app:x", rt.now(), True, ("swk",))
    live = rt.sessions.create(employee_id=server.employee(bob).id, factor=use, now=rt.now())
    client = Browserless(server)
    started = client.post("/push/login/start", {"username": bob})
    assert started.status_code == 200
    reports_before = server.runtime.authenticator.devices.total_reports()
    assert app.deny(reason="not_me") == "denied"
    (event,) = server.runtime.audit.list(kind=AuditKind.PUSH_REPORTED, limit=1).items
    assert event.details["sso_suspended"] == "yes" and event.details["ip"] == "127.0.0.1"
    assert event.employee_id == server.employee(bob).id
    assert not server.employee(bob).enabled
    # Someone else knows enough to start a sign-in: the employee's sessions end at once.
    assert rt.sessions.get(live.session_id, now=rt.now()) is None
    (ended,) = rt.audit.list(kind=AuditKind.SESSION_ENDED, employee_id=event.employee_id).items
    assert ended.reason == "push_reported" and ended.details["sessions"] == "1"
    device = server.runtime.authenticator.devices.for_employee(server.employee(bob).id)
    assert device is not None and device.reported_count == 1
    assert cli(server, "list") == 0
    out = capsys.readouterr().out
    assert re.search(rf"^{bob}\s+{bob}'s phone\s+desktop\s+active\s+polling\s+1 ", out, re.M)
    assert f"'this wasn't me' reports: {reports_before + 1}" in out
    # Suspended: a new push goes nowhere (a decoy), until an administrator enables them again.
    server.runtime.directory.invalidate()
    again = client.post("/push/login/start", {"username": bob})
    assert again.status_code == 200 and app.pending() == []
    assert main(["employee", "update", bob, "--enable", "--config",
                 str(server.config_path)]) == 0  # fmt: skip
    server.runtime.directory.invalidate()


def test_disable_enable_remove_through_the_cli(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = new_person(server)
    app = enrolled_app(server, alice, tmp_path)
    assert cli(server, "disable", alice) == 0
    assert "is disabled" in capsys.readouterr().out
    with pytest.raises(Exception, match="disabled by an administrator"):
        app.pending()
    assert cli(server, "enable", alice) == 0
    assert app.pending() == []
    assert cli(server, "show", alice) == 0
    assert f"{alice}: app {alice}'s phone (desktop, active); TOTP not set up" in (
        capsys.readouterr().out)  # fmt: skip
    assert cli(server, "remove", alice) == 0
    assert cli(server, "remove", alice) == 2
    assert "has no authenticator app" in capsys.readouterr().err
    assert cli(server, "show", "nobody") == 2
    assert "no employee with username 'nobody'" in capsys.readouterr().err
    removed = server.runtime.audit.list(kind=AuditKind.FACTOR_REMOVED, limit=1).items
    assert removed[0].details["username"] == alice and removed[0].actor == "cli"


def test_re_enrolment_replaces_the_device_and_is_audited(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = new_person(server)
    first = enrolled_app(server, alice, tmp_path / "old")
    second = enrolled_app(server, alice, tmp_path / "new")
    devices = server.runtime.authenticator.devices
    current = devices.for_employee(server.employee(alice).id)
    assert current is not None and current.display_name == f"{alice}'s phone"
    (added,) = server.runtime.audit.list(kind=AuditKind.FACTOR_ADDED, limit=1).items
    assert added.reason == "re-enrolment replaced the earlier device"
    assert added.details["replaced_device_id"] != current.device_id
    with pytest.raises(Exception, match="not enrolled here"):
        first.pending()
    assert second.pending() == []


def test_the_employee_removes_the_app_on_the_account_page(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = new_person(server)
    app = enrolled_app(server, alice, tmp_path)
    client = Browserless(server)
    started = client.post("/push/login/start", {"username": alice})
    app.approve(started.json()["number"])
    done = client.post("/push/login/poll", {"transaction_id": started.json()["transaction_id"]})
    assert done.status_code == 200, done.text
    account = client.http.get(server.url("/"), timeout=10).text
    assert 'id="app-device"' in account and f"{alice}&#39;s phone" in account
    csrf = client.csrf("/")
    ask = client.http.post(server.url("/authenticator/remove"),
                           data={"csrf": csrf, "factor": "app"}, timeout=10)  # fmt: skip
    assert ask.status_code == 200 and 'id="confirm-remove"' in ask.text
    assert server.runtime.authenticator.devices.for_employee(server.employee(alice).id)
    done = client.http.post(server.url("/authenticator/remove"),
                            data={"csrf": csrf, "factor": "app", "confirm": "yes"},
                            allow_redirects=False, timeout=10)  # fmt: skip
    assert done.status_code == 303 and done.headers["Location"] == "/?done=removed-app"
    assert server.runtime.authenticator.devices.for_employee(server.employee(alice).id) is None
    # One-time codes set up from the account page (no enrolment link), then removed there.
    shown = client.post("/totp/enrol/start", {}, page="/").json()
    code = subprocess.run(["oathtool", "--totp", "-b", shown["secret"]], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert client.post("/totp/enrol/confirm", {"code": code}, page="/").status_code == 200
    assert 'id="totp-device"' in client.http.get(server.url("/"), timeout=10).text
    gone = client.http.post(server.url("/authenticator/remove"),
                            data={"csrf": csrf, "factor": "totp", "confirm": "yes"},
                            allow_redirects=False, timeout=10)  # fmt: skip
    assert gone.status_code == 303 and gone.headers["Location"] == "/?done=removed-totp"
    assert server.runtime.authenticator.totp.get(server.employee(alice).id) is None
    again = client.http.post(server.url("/authenticator/remove"),
                             data={"csrf": csrf, "factor": "totp", "confirm": "yes"},
                             headers={"Accept": "application/json"}, timeout=10)  # fmt: skip
    assert again.status_code == 404 and "no one-time code" in again.json()["error_description"]
    bad = client.http.post(server.url("/authenticator/remove"),
                           data={"csrf": csrf, "factor": "passwords"}, timeout=10)  # fmt: skip
    assert bad.status_code == 400
    no_csrf = client.http.post(server.url("/authenticator/remove"), data={"factor": "app"},
                               timeout=10)  # fmt: skip
    assert no_csrf.status_code == 400
