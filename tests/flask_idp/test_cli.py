"""The hideez-idp command line, run in process on a config made by the demo preparer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import update

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.store.sql.models import AuditEventRow


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return prepare(tmp_path / "demo", port=18080, sp_port=18081)


def test_check_config_ok(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"{config}: OK" in out
    assert (
        "  SP demo-sp: entity id http://localhost:18081/metadata, ACS http://localhost:18081/acs"
        in out
    )
    assert "OIDC: off" in out and "WS-Fed: off" in out


def test_check_config_names_file_and_key(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config.write_text(config.read_text().replace("challenge_ttl", "x") + "webauthn_typo: 1\n")
    assert main(["check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "webauthn_typo" in err and "unknown key" in err


def test_bad_relying_party_file_is_named(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rp = config.parent / "relying_parties" / "broken.yaml"
    rp.write_text("protocol: saml\nname: broken\nentity_id: https://sp.example\nacs: nope\n")
    assert main(["check-config", "--config", str(config)]) == 2
    assert "broken.yaml" in capsys.readouterr().err


def test_metadata_is_signed_xml(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metadata", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<") and "EntityDescriptor" in out and "SignatureValue" in out


def test_employee_add_enrol_and_audit(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "employee",
                "--config",
                str(config),
                "add",
                "carol",
                "--email",
                "carol@example.com",
                "--first-name",
                "Carol",
            ]
        )
        == 0
    )
    assert main(["enrol", "--config", str(config), "carol"]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    assert link.startswith("http://localhost:18080/enrol/")
    assert main(["enrol", "--config", str(config), "nobody"]) == 2
    assert "no employee" in capsys.readouterr().err
    assert main(["audit", "--config", str(config), "verify"]) == 0
    assert "OK: 2 events" in capsys.readouterr().out
    assert main(["audit", "--config", str(config), "recent"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["SEQ", "TIME", "(UTC)", "EVENT"]
    assert "EMPLOYEE" in lines[0]
    newest, created = lines[1].split(), lines[2].split()
    assert newest[3:7] == ["enrolment_link_created", "success", "cli", "carol"]
    assert created[3:7] == ["employee_created", "success", "cli", "carol"]


def test_audit_verify_detects_tampering(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from idp.config.loader import load_config
    from idp.runtime import build_runtime

    main(["employee", "--config", str(config), "add", "dave", "--email", "d@example.com"])
    runtime = build_runtime(load_config(config))
    with runtime.db.engine.begin() as conn:
        conn.execute(update(AuditEventRow).where(AuditEventRow.seq == 1).values(actor="mallory"))
    capsys.readouterr()
    assert main(["audit", "--config", str(config), "verify"]) == 1
    assert "BROKEN at seq 1" in capsys.readouterr().out


def test_purge_runs_on_an_empty_database(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["purge", "--config", str(config)]) == 0
    assert "purged 0 expired refresh-token families, 0 expired consents and 0 offline-grant " in (
        capsys.readouterr().out
    )


def test_purge_drops_offline_revocations_no_grant_can_outlive(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from idp.config.loader import load_config
    from idp.config.workstations import MAX_OFFLINE_HOURS
    from idp.runtime import build_runtime
    from idp.workstations.offline_revocations import OfflineRevocations

    runtime = build_runtime(load_config(config))
    revocations = OfflineRevocations(runtime.db, runtime.ephemeral)
    now = runtime.now()
    longest = dt.timedelta(hours=MAX_OFFLINE_HOURS)
    for device, age in (
        ("old", longest + dt.timedelta(minutes=1)),
        ("edge", longest - dt.timedelta(minutes=1)),
        ("new", dt.timedelta(0)),
    ):
        revocations.revoke(device_id=device, reason="test", now=now - age)
    runtime.close()

    assert main(["purge", "--config", str(config)]) == 0
    assert "and 1 offline-grant revocations older than 720 hours" in capsys.readouterr().out
    runtime = build_runtime(load_config(config))
    kept = OfflineRevocations(runtime.db, runtime.ephemeral).since(now - 2 * longest)
    assert sorted(r.device_id for r in kept) == ["edge", "new"]
    runtime.close()
    assert main(["purge", "--config", str(config)]) == 0  # nothing left to purge
    assert "and 0 offline-grant revocations" in capsys.readouterr().out


def test_sp_naming_an_unknown_policy_is_refused_at_start(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rp = config.parent / "relying_parties" / "demo-sp.yaml"
    rp.write_text(rp.read_text() + "policy: strictt\n")
    assert main(["check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "demo-sp.yaml: policy: no policy named 'strictt'; defined: default" in err


def test_keygen_writes_a_private_key_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from idp.keys import load_signing_key

    key, cert = tmp_path / "k/idp.key", tmp_path / "k/idp.crt"
    args = ["keygen", "--key", str(key), "--cert", str(cert), "--common-name", "idp test"]
    assert main(args) == 0
    assert key.stat().st_mode & 0o077 == 0
    assert load_signing_key(key, cert).algorithm == "RS256"
    before = key.read_bytes()
    assert main(args) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert key.read_bytes() == before
