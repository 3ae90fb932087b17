"""The gateway's offline grants under hostile input: malformed grants refused before anything
is written, codes of the wrong shape counted as wrong tries, an exhausted grant refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from device_gateway.offline import OfflineGrants
from idp.errors import InvalidRequest
from idp.workstations import offline, sealed
from idp.workstations.errors import OfflineCodeRefused
from idp.workstations.model import public_key_b64, workstation_id_for

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
DEVICE = "device-000000000001"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[OfflineGrants, dict[str, Any], dict[str, str], bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    ws_id = workstation_id_for(key.public_key())
    grant = offline.mint(count=2, lifetime=dt.timedelta(hours=1), now=NOW)
    body = {"device_id": DEVICE, **grant.for_workstation(public_key=public_key_b64(
        key.public_key()), workstation_id=ws_id)}  # fmt: skip
    password = sealed.seal(b"pw", recipient=key.public_key(), workstation_id=ws_id,
                           purpose=sealed.PASSWORD_PURPOSE).to_wire()  # fmt: skip
    grants = OfflineGrants(tmp_path / "offline", key=key, workstation_id=ws_id, clock=lambda: NOW)
    return grants, body, password, grant.secret


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"device_id": "../../etc/passwd"}, "device_id"),
        ({"count": 0}, "count must be 1-20"),
        ({"count": True}, "count must be 1-20"),
        ({"count": 21}, "count must be 1-20"),
        ({"expires_at": "tomorrow"}, "ISO 8601"),
        ({"secret": "plain"}, "sealed secret"),
        ({"secret": {"suite": "ROT13"}}, "expected a sealed value"),
    ],
)
def test_malformed_grants_are_refused_and_nothing_is_kept(
    setup: tuple[OfflineGrants, dict[str, Any], dict[str, str], bytes],
    change: dict[str, Any],
    message: str,
) -> None:
    grants, body, password, _ = setup
    # InvalidLinkMessage, or SealedCredentialInvalid for the sealed parts: both 400s
    with pytest.raises(InvalidRequest, match=message):
        grants.keep(body={**body, **change}, employee="alice", account="CORP\\alice",
                    sealed_password=password)  # fmt: skip
    assert grants.grants() == []


def test_codes_of_the_wrong_shape_count_as_wrong_tries(
    setup: tuple[OfflineGrants, dict[str, Any], dict[str, str], bytes],
) -> None:
    grants, body, password, secret = setup
    grants.keep(body=body, employee="alice", account="CORP\\alice", sealed_password=password)
    for bad in ("", "1234", "abcdefgh", "1" * 9):
        with pytest.raises(OfflineCodeRefused):
            grants.redeem(bad)
    ws_id = grants._workstation_id
    codes = [offline.code_at(secret, workstation_id=ws_id, device_id=DEVICE, index=i)
             for i in (1, 2)]  # fmt: skip
    assert grants.redeem(codes[0]).password == "pw"  # 4 wrong tries so far: under the cap
    with pytest.raises(OfflineCodeRefused, match="wrong, used already"):
        grants.redeem("0000 0000")
    with pytest.raises(OfflineCodeRefused, match="5 wrong offline codes"):
        grants.redeem(codes[1])


def test_an_exhausted_grant_is_refused(
    setup: tuple[OfflineGrants, dict[str, Any], dict[str, str], bytes],
) -> None:
    grants, body, password, secret = setup
    grants.keep(body=body, employee="alice", account="CORP\\alice", sealed_password=password)
    ws_id = grants._workstation_id
    last = offline.code_at(secret, workstation_id=ws_id, device_id=DEVICE, index=2)
    assert grants.redeem(last).grant.next_index == 3
    with pytest.raises(OfflineCodeRefused, match="wrong, used already or expired"):
        grants.redeem(last)
    beyond = offline.code_at(secret, workstation_id=ws_id, device_id=DEVICE, index=3)
    with pytest.raises(OfflineCodeRefused):
        grants.redeem(beyond)


def test_a_revocation_drops_only_the_grants_issued_before_it(
    setup: tuple[OfflineGrants, dict[str, Any], dict[str, str], bytes],
) -> None:
    grants, body, password, _ = setup
    assert body["issued_at"] == "2026-12-02T09:00:00+00:00"

    def keep(**change: Any) -> None:
        grants.keep(body={**body, **change}, employee="alice", account="CORP\\alice",
                    sealed_password=password)  # fmt: skip

    keep()
    # A revocation older than the grant (replayed in a later welcome) leaves it alone.
    assert not grants.revoke(DEVICE, "2026-12-02T08:59:59+00:00") and len(grants.grants()) == 1
    assert grants.revoke(DEVICE, "2026-12-02T09:00:00+00:00") and grants.grants() == []
    keep(issued_at="")  # a grant kept before servers said when they minted it: always dropped
    assert grants.revoke(DEVICE, "2020-01-01T00:00:00+00:00") and grants.grants() == []
    keep()
    for bad in ("yesterday", "2026-12-02T09:00:00", 7):
        with pytest.raises(InvalidRequest, match="revoked_at"):
            grants.revoke(DEVICE, bad)
    assert grants.revoke(DEVICE) and not grants.revoke(DEVICE)  # without a time: whatever age
    with pytest.raises(InvalidRequest, match="issued_at"):
        keep(issued_at="soon")
