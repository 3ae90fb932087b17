"""The IdP on MariaDB and Redis: an enrolment and a SAML sign-in over real HTTP, then the
database moved to a new SQLite file with ``hideez-idp export`` / ``import`` and verified with
``hideez-idp audit verify``, as an operator would move it."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_idp.cli import main
from idp.audit import AuditKind
from tests.e2e.helpers import PasskeyClient, autopost_fields
from tests.e2e.saml_peer import sp_login
from tests.e2e.server import MARIADB_REDIS, run_idp

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb, pytest.mark.redis]


def test_sign_in_on_mariadb_then_move_the_database_to_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with run_idp(tmp_path / "idp", storage=MARIADB_REDIS, uv_required=False) as server:
        assert server.runtime.db.dialect == "mysql"
        client = PasskeyClient(server)
        client.enrol("alice")
        answer = sp_login(client, server)
        assert answer.status_code == 200, answer.text
        action, fields = autopost_fields(answer.text)
        landed = client.http.post(action, data=fields, allow_redirects=False, timeout=10)
        assert landed.status_code == 302, landed.text
        server.runtime.audit.flush()  # the SSO answer is audited in the background
        alice = server.employee("alice")
        issued = server.runtime.audit.list(kind=AuditKind.SSO_ISSUED, employee_id=alice.id)
        assert [e.relying_party for e in issued.items] == ["demo-sp"]
        export = tmp_path / "idp.export"
        assert main(["export", "--to", str(export), "--config", str(server.config_path)]) == 0
        assert main(["export", "--to", str(export), "--config", str(server.config_path)]) == 2
        config, directory = server.config_path.read_text(), server.config_path.parent

    out, err = capsys.readouterr()
    assert f"to {export}" in out and "exists: choose a new file name" in err
    new_config = directory / "moved.yaml"  # beside the first: its relative paths hold
    database_url = next(line for line in config.splitlines() if line.startswith("database_url:"))
    new_config.write_text(
        config.replace(database_url, f"database_url: sqlite:///{tmp_path}/moved.db")
    )
    args = ["--config", str(new_config)]
    assert main(["import", "--from", str(export), *args]) == 0
    assert "audit chain verified" in capsys.readouterr().out
    assert main(["audit", "verify", *args]) == 0
    assert "audit chain OK" in capsys.readouterr().out
    assert main(["import", "--from", str(export), *args]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["employee", "show", "alice", *args]) == 0
    assert "alice@example.com" in capsys.readouterr().out
