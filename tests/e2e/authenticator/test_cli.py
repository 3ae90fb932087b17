"""``hideez-idp authenticator …`` through the CLI's own ``main``, as a user types it: enrol
from the QR code's content, list the waiting request, approve with the number, deny, TOTP."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest

from flask_idp.cli import main
from tests.e2e.authenticator.helpers import Browserless, new_person
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(app_server: RunningServer) -> RunningServer:
    return app_server


def run(state: Path, *args: str) -> int:
    return main(["authenticator", *args, "--state", str(state)])


def test_enrol_list_approve(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = new_person(server)
    code = Browserless(server).enrolment_code(alice)
    assert run(tmp_path, "enrol", code, "--name", "CLI phone") == 0
    assert "enrolled device" in capsys.readouterr().out
    assert (tmp_path / "device-key.pem").stat().st_mode & 0o777 == 0o600
    assert run(tmp_path, "list") == 0
    assert capsys.readouterr().out.strip() == "no sign-in request is waiting"
    client = Browserless(server)
    shown = client.post("/push/login/start", {"username": alice}).json()
    assert run(tmp_path, "list") == 0
    listed = capsys.readouterr().out
    assert "sign-in to idp from 127.0.0.1" in listed and str(shown["number"]) in listed
    assert run(tmp_path, "approve", "--number", str(shown["number"])) == 0
    assert capsys.readouterr().out.strip() == "answer sent: approved"
    done = client.post("/push/login/poll", {"transaction_id": shown["transaction_id"]})
    assert done.status_code == 200 and done.json()["redirect"] == "/"


def test_deny_and_clear_errors(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "list") == 2
    assert "not enrolled yet" in capsys.readouterr().err
    assert run(tmp_path, "enrol", "https://not-a-code") == 2
    assert "expected a hideez-idp://enrol" in capsys.readouterr().err
    bob = new_person(server)
    code = Browserless(server).enrolment_code(bob)
    assert run(tmp_path, "enrol", code) == 0
    assert run(tmp_path, "enrol", code) == 2
    assert "already used or has expired" in capsys.readouterr().err
    assert run(tmp_path, "approve", "--number", "42") == 2
    assert "no sign-in request is waiting" in capsys.readouterr().err
    Browserless(server).post("/push/login/start", {"username": bob})
    assert run(tmp_path, "deny", "--reason", "declined") == 0
    assert "answer sent: denied" in capsys.readouterr().out


def test_totp_codes_match_oathtool(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = new_person(server)
    token = server.enrolment_link(alice).rsplit("/", 1)[1]
    shown = Browserless(server).post("/totp/enrol/start", {"token": token},
                                     page=f"/enrol/{token}").json()  # fmt: skip
    assert run(tmp_path, "totp", "--add", shown["uri"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"added Hideez IdP:{alice}@example.com" and re.fullmatch(r"\d{6}", out[1])
    expected = subprocess.run(["oathtool", "--totp", "-b", shown["secret"]], check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    assert out[1] == expected or now.second % 30 == 0  # a step boundary between the two
    assert run(tmp_path, "totp", "--add", "https://example.com") == 2
    assert "otpauth://totp/" in capsys.readouterr().err
