"""The ``workstations:`` section: defaults, every key, and errors naming the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_idp.demo import prepare
from idp.config.loader import load_config
from idp.config.workstations import WorkstationSettings
from idp.errors import ConfigError


def _with(tmp_path: Path, section: str) -> Path:
    path = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    path.write_text(path.read_text() + section)
    return path


def test_defaults(tmp_path: Path) -> None:
    assert load_config(_with(tmp_path, "")).workstations == WorkstationSettings()


def test_every_key(tmp_path: Path) -> None:
    for name in ("ca.key", "ca.crt", "tls.key", "tls.crt"):
        (tmp_path / name).write_text("x")
    config = load_config(
        _with(
            tmp_path,
            f"""workstations:
  link: {{host: 0.0.0.0, port: 9443, window: 120,
          tls: {{key: {tmp_path}/tls.key, cert: {tmp_path}/tls.crt}}}}
  logon_ca: {{key: {tmp_path}/ca.key, cert: {tmp_path}/ca.crt}}
  alarm_admins: [boss, security.lead]
  pc_login: {{default_enabled: false, offline_codes: 0, offline_hours: 24}}
  registration_limit: {{per_address: 5, overall: 50, window: 600}}
""",
        )
    )
    ws = config.workstations
    assert (ws.link.host, ws.link.port, ws.link.window) == ("0.0.0.0", 9443, 120)
    assert ws.link.tls is not None and ws.link.tls.cert == tmp_path / "tls.crt"
    assert ws.logon_ca is not None and ws.logon_ca.key == tmp_path / "ca.key"
    assert ws.alarm_admins == ("boss", "security.lead")
    assert (ws.pc_login.default_enabled, ws.pc_login.offline_codes) == (False, 0)
    assert ws.pc_login.offline_hours == 24
    limit = ws.registration_limit
    assert (limit.per_address, limit.overall, limit.window) == (5, 50, 600)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("workstations: {colour: red}", "workstations.colour: unknown key"),
        ("workstations: {link: {window: 5}}", "workstations.link.window: must be at least 30"),
        ("workstations: {link: {port: 70000}}", "workstations.link.port: must be at most 65535"),
        ("workstations: {logon_ca: {key: nope.key, cert: nope.crt}}", "no such file"),
        ("workstations: {alarm_admins: ['Bad Name!']}", "does not match"),
        ("workstations: {alarm_admins: boss}", "workstations.alarm_admins"),
        ("workstations: {pc_login: {default_enabled: 1}}", "expected true or false"),
        ("workstations: {pc_login: {offline_codes: 21}}", "offline_codes: must be at most 20"),
        ("workstations: {pc_login: {offline_hours: 0}}", "offline_hours: must be at least 1"),
        ("workstations: {pc_login: {codes: 3}}", "workstations.pc_login.codes: unknown key"),
        ("workstations: {registration_limit: {window: 10}}", "window: must be at least 60"),
        (
            "workstations: {registration_limit: {per_address: 50, overall: 10}}",
            "overall (10) must be at least per_address (50)",
        ),
    ],
)
def test_errors_name_the_key(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_with(tmp_path, section + "\n"))
    assert message in str(caught.value)
