"""``hideez-idp proximity set|show|reset`` and ``rfid assign|list|remove`` through ``main()``,
hostile input included: every refusal is exit 2 with a message, never a trace, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.audit import AuditKind
from idp.config.loader import load_config
from idp.errors import ConfigError
from idp.runtime import build_runtime
from idp.workstations.model import (
    WorkstationInfo,
    WorkstationStatus,
    public_key_b64,
    workstation_id_for,
)
from idp.workstations.proximity_store import ProximityRepository
from idp.workstations.registry import WorkstationRepository
from tests.store.sql.helpers import NOW

ALICE = "HK-ALICE-0001"


def _prepared(directory: Path) -> Path:
    path = prepare(directory, port=18080, sp_port=18081)
    path.write_text(
        path.read_text()
        + "workstations:\n  proximity:\n    lock_proximity: 25\n    unlock_proximity: 75\n"
        + "    calibration: {rssi_near: -45, rssi_far: -95}\n"
    )
    return path


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = _prepared(tmp_path / "demo")
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(path))
    return path


@pytest.fixture(scope="module")
def _refusing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One set-up for the refusals (they store nothing, so they can share it)."""
    path = _prepared(tmp_path_factory.mktemp("refusals") / "demo")
    return path, {"ws": _workstation(path), "pending": _workstation(path, approved=False)}


def _workstation(config: Path, *, approved: bool = True) -> str:
    runtime = build_runtime(load_config(config))
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    ws_id = workstation_id_for(key)
    registry = WorkstationRepository(
        runtime.db, defaults=runtime.config.workstations.proximity.settings
    )
    info = WorkstationInfo("pc-7", "CORP", "Windows 11", "10.0.0.7", "1.0.0")
    registry.register(workstation_id=ws_id, public_key=public_key_b64(key), info=info, now=NOW)
    if approved:
        registry.set_status(ws_id, WorkstationStatus.APPROVED, by="root", now=NOW)
    runtime.close()
    return ws_id


def _stored(config: Path) -> tuple[int, int]:
    runtime = build_runtime(load_config(config))
    repo = ProximityRepository(runtime.db)
    ws = WorkstationRepository(runtime.db).list().items
    counts = sum(len(repo.keys(w.id)) for w in ws), len(repo.tags())
    runtime.close()
    return counts


def test_set_show_reset_a_keys_settings(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws_id = _workstation(config)
    assert main(["proximity", "set", ws_id, ALICE, "--lock-timeout", "8"]) == 0
    # The options not given keep the key's current values (the config's defaults here).
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{ALICE} at {ws_id}: lock below 25, unlock at 75, after 8 s"
    )
    assert main(["proximity", "show", ws_id]) == 0
    shown = capsys.readouterr().out
    assert "workstation: lock below 25, unlock at 75, after 5 s" in shown
    assert "calibration: -95 dBm = 0, -45 dBm = 100, median of 3" in shown
    assert f"key {ALICE}: lock below 25, unlock at 75, after 8 s (by cli)" in shown
    assert main(["proximity", "reset", ws_id, ALICE]) == 0
    assert "follows the workstation again" in capsys.readouterr().out
    assert _stored(config) == (0, 0)
    runtime = build_runtime(load_config(config))
    changes = [e for e in runtime.audit.list().items if e.kind is AuditKind.ADMIN_CHANGE]
    assert [e.details.get("action") for e in changes][:2] == ["proximity_reset", "proximity_set"]
    assert changes[1].details["key"] == ALICE and changes[1].details["lock_timeout"] == "8"
    runtime.close()


def test_workstation_settings_keep_the_configured_defaults_not_given(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws_id = _workstation(config)
    assert main(["workstation", "settings", ws_id, "--lock-timeout", "9"]) == 0
    assert main(["proximity", "show", ws_id]) == 0
    # 25/75 from workstations.proximity, not the built-in 30/70
    assert "workstation: lock below 25, unlock at 75, after 9 s" in capsys.readouterr().out
    assert main(["workstation", "settings", ws_id, "--lock-proximity", "80"]) == 2
    assert "must be above lock_proximity (80)" in capsys.readouterr().err
    assert main(["proximity", "show", ws_id]) == 0
    assert "workstation: lock below 25, unlock at 75, after 9 s" in capsys.readouterr().out


def test_rfid_assign_list_remove(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rfid", "assign", "04:A2:B3:C4", ALICE]) == 0
    assert main(["rfid", "assign", "04a2b3c4", ALICE]) == 0  # the same again: no change
    assert main(["rfid", "list"]) == 0
    out = capsys.readouterr().out
    assert f"04a2b3c4  {ALICE}  " in out and out.rstrip().endswith("1 tags")
    assert main(["rfid", "remove", "04A2B3C4"]) == 0
    assert f"tag 04a2b3c4 (key {ALICE}) removed" in capsys.readouterr().out
    assert _stored(config) == (0, 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["proximity", "set", "{ws}", ALICE, "--unlock-proximity", "20"], "must be above"),
        (["proximity", "set", "{ws}", ALICE, "--lock-proximity", "101"], "0-100"),
        (["proximity", "set", "{ws}", ALICE, "--lock-timeout", "0"], "1-300"),
        (["proximity", "set", "{ws}", "HK 1; DROP TABLE", "--lock-timeout", "9"], "key serial"),
        (["proximity", "set", "{ws}", "A" * 65], "key serial"),
        (["proximity", "set", "ws-nope", ALICE], "no workstation"),
        (["proximity", "set", "{pending}", ALICE], "only approved workstations"),
        (["proximity", "reset", "{ws}", ALICE], "no settings of its own"),
        (["proximity", "show", "ws-nope"], "no workstation"),
        (["rfid", "assign", "xyz", ALICE], "tag UID"),
        (["rfid", "assign", "04a2b3c4\x00", ALICE], "tag UID"),
        (["rfid", "assign", "00" * 11, ALICE], "tag UID"),
        (["rfid", "assign", "04a2b3c4", "../../etc/passwd"], "key serial"),
        (["rfid", "remove", "deadbeef"], "no tag deadbeef"),
    ],
)
def test_hostile_input_is_refused_with_a_message(
    _refusing: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    config, names = _refusing
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(config))
    assert main([a.format(**names) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert _stored(config) == (0, 0)


def test_a_tag_of_another_key_is_refused_and_stays(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rfid", "assign", "04a2b3c4", ALICE]) == 0
    assert main(["rfid", "assign", "04a2b3c4", "HK-BOB-0002"]) == 2
    assert f"assigned to {ALICE}: remove it first" in capsys.readouterr().err
    assert main(["rfid", "list"]) == 0
    assert ALICE in capsys.readouterr().out


def test_non_numbers_are_refused_by_the_parser(config: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["proximity", "set", "ws-x", ALICE, "--lock-timeout", "five"])
    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("  proximity: {lock_proximity: 70, unlock_proximity: 30}\n", "must be above"),
        ("  proximity: {lock_timeout: 0}\n", "1-300"),
        ("  proximity: {lock_timeout: soon}\n", "integer"),
        ("  proximity: {calibration: {rssi_near: -95, rssi_far: -45}}\n", "must be above"),
        ("  proximity: {calibration: {samples: 99}}\n", "1-15"),
        ("  proximity: {lock_timout: 5}\n", "lock_timout"),
    ],
)
def test_invalid_proximity_configuration_is_refused(
    tmp_path: Path, yaml: str, message: str
) -> None:
    path = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    path.write_text(path.read_text() + "workstations:\n" + yaml)
    with pytest.raises(ConfigError) as refused:  # one error: raised as it is
        load_config(path)
    assert message in str(refused.value) and "workstations.proximity" in str(refused.value)
