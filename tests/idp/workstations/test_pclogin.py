"""The parts of PC login that do not need the phone: sealed passwords, logon certificates
(verified with ``cryptography``), the lock-screen QR nonce, and the logon check."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from idp.directory.model import Employee
from idp.store.ephemeral.base import EphemeralStore
from idp.workstations import pclogin, sealed
from idp.workstations.ca import MS_UPN, SMART_CARD_LOGON, InvalidCertificateRequest, LocalCa
from idp.workstations.errors import (
    AlarmActive,
    LogonRefused,
    QrNonceInvalid,
    SealedCredentialInvalid,
    WorkstationNotApproved,
)
from idp.workstations.model import (
    ProximitySettings,
    Workstation,
    WorkstationInfo,
    WorkstationStatus,
    public_key_b64,
    workstation_id_for,
)
from idp.workstations.registry import AlarmState

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
CALM = AlarmState(False, None, None, None, None)


def _workstation(
    status: WorkstationStatus = WorkstationStatus.APPROVED,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[Workstation, ec.EllipticCurvePrivateKey]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    ws = Workstation(
        id=workstation_id_for(key.public_key()),
        info=WorkstationInfo("pc-1", "CORP", "Windows 11", "10.0.0.7", "1.0"),
        public_key=public_key_b64(key.public_key()),
        status=status,
        settings=ProximitySettings(),
        registered_at=NOW,
        last_seen_at=None,
    )
    return ws, key


def test_password_sealed_to_the_workstation_opens_only_there() -> None:
    ws, key = _workstation()
    command = pclogin.password_command(workstation=ws, account="CORP\\alice", password="S3cret!pw")
    box = sealed.Sealed.from_wire(command.body["sealed"])
    assert b"S3cret" not in str(command.to_wire()).encode()
    opened = sealed.open_sealed(
        box, key=key, workstation_id=ws.id, purpose=pclogin.PASSWORD_PURPOSE
    )
    assert opened == b"S3cret!pw"
    other, other_key = _workstation()
    with pytest.raises(SealedCredentialInvalid):
        sealed.open_sealed(
            box, key=other_key, workstation_id=ws.id, purpose=pclogin.PASSWORD_PURPOSE
        )
    with pytest.raises(SealedCredentialInvalid):  # replayed to another workstation id
        sealed.open_sealed(box, key=key, workstation_id=other.id, purpose=pclogin.PASSWORD_PURPOSE)
    tampered = sealed.Sealed(box.epk, box.nonce, box.ciphertext[:-2] + "AA")
    with pytest.raises(SealedCredentialInvalid):
        sealed.open_sealed(
            tampered, key=key, workstation_id=ws.id, purpose=pclogin.PASSWORD_PURPOSE
        )


@pytest.mark.parametrize("value", [None, {}, {"suite": "other"}, {"suite": sealed.SUITE, "epk": 1}])
def test_malformed_sealed_values_are_refused(value: object) -> None:
    with pytest.raises(SealedCredentialInvalid):
        sealed.Sealed.from_wire(value)


def test_logon_certificate_verifies_with_the_smart_card_eku_and_upn() -> None:
    ca = LocalCa.create("Hideez IdP logon CA", now=NOW)
    ws, key = _workstation()
    command = pclogin.certificate_command(
        ca=ca, workstation=ws, account="CORP\\alice", upn="alice@corp.example", now=NOW
    )
    leaf, issuer = x509.load_pem_x509_certificates(command.body["certificate"].encode())
    assert issuer == ca.certificate
    leaf.verify_directly_issued_by(ca.certificate)
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [SMART_CARD_LOGON, ExtendedKeyUsageOID.CLIENT_AUTH]
    (other_name,) = leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.OtherName)
    assert other_name.type_id == MS_UPN
    assert other_name.value == b"\x0c\x12alice@corp.example"  # DER UTF8String
    assert leaf.public_key() == key.public_key()  # issued to the workstation's own key
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert dt.timedelta(minutes=5) < lifetime <= dt.timedelta(minutes=6)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize(
    ("upn", "lifetime"),
    [
        ("not a upn", dt.timedelta(minutes=5)),
        ("a@corp.example", dt.timedelta(hours=2)),
        ("a@corp.example", dt.timedelta(seconds=10)),
    ],
)
def test_logon_certificate_requests_out_of_bounds_are_refused(
    upn: str, lifetime: dt.timedelta
) -> None:
    ca = LocalCa.create("CA", now=NOW)
    ws, _ = _workstation()
    with pytest.raises(InvalidCertificateRequest):
        pclogin.certificate_command(
            ca=ca, workstation=ws, account="a", upn=upn, now=NOW, lifetime=lifetime
        )


def test_lock_screen_qr_nonce_is_single_use_and_bound_to_its_workstation(
    ephemeral: EphemeralStore,
) -> None:
    ws, _ = _workstation()
    qr = pclogin.issue_qr(store=ephemeral, workstation=ws, now=NOW)
    assert qr.payload.startswith("hideez-idp://pc-login?ws=" + ws.id)
    assert pclogin.redeem_qr(store=ephemeral, payload=qr.payload) == ws.id
    with pytest.raises(QrNonceInvalid, match="already used"):
        pclogin.redeem_qr(store=ephemeral, payload=qr.payload)
    other, _ = _workstation()
    stolen = pclogin.issue_qr(store=ephemeral, workstation=other, now=NOW)
    with pytest.raises(QrNonceInvalid, match="another workstation"):
        pclogin.redeem_qr(store=ephemeral, payload=stolen.payload.replace(other.id, ws.id))
    for payload in ("", "https://evil/pc-login?ws=x&n=y", "hideez-idp://pc-login?ws=ws-1&n=2"):
        with pytest.raises(QrNonceInvalid):
            pclogin.redeem_qr(store=ephemeral, payload=payload)


def test_qr_is_only_issued_to_approved_workstations(ephemeral: EphemeralStore) -> None:
    ws, _ = _workstation(WorkstationStatus.PENDING)
    with pytest.raises(WorkstationNotApproved):
        pclogin.issue_qr(store=ephemeral, workstation=ws, now=NOW)


def test_logon_check_refuses_unapproved_workstation_disabled_employee_and_alarm() -> None:
    alice = Employee(
        id="e1", username="alice", email="a@corp.example", first_name="A", last_name="B"
    )
    ws, _ = _workstation()
    pclogin.check_logon(workstation=ws, employee=alice, alarm=CALM)
    with pytest.raises(WorkstationNotApproved):
        pclogin.check_logon(
            workstation=_workstation(WorkstationStatus.UNAPPROVED)[0], employee=alice, alarm=CALM
        )
    with pytest.raises(LogonRefused, match="deactivated"):
        pclogin.check_logon(
            workstation=ws, employee=Employee(**{**alice.__dict__, "enabled": False}), alarm=CALM
        )
    with pytest.raises(AlarmActive):
        pclogin.check_logon(
            workstation=ws, employee=alice, alarm=AlarmState(True, NOW, "root", None, None)
        )
