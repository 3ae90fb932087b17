"""The FCM and APNs adapters against their loopback stand-ins (push_standins.py; the real
services cannot be reached from here): the documented request shape, and each documented
answer mapped — delivered, unregistered (the device is marked), quota/server errors (back
off for Retry-After, the service is not called meanwhile)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.config.authenticator import ApnsSettings, AuthenticatorSettings, FcmSettings
from idp.factors.authenticator.model import Device, DeviceStatus
from idp.factors.authenticator.providers import ApnsProvider, FcmProvider, PushOutcome
from idp.factors.authenticator.push import create_challenge
from idp.factors.authenticator.service import AuthenticatorServices
from idp.factors.authenticator.store import DeviceRepository, TotpRepository
from idp.secrets import SecretBox
from idp.store.ephemeral import MemoryStore
from idp.store.sql import Database, EmployeeRepository
from tests.idp.factors.authenticator.push_standins import (
    ApnsStandin,
    FcmStandin,
    apns_standin,
    fcm_standin,
)
from tests.store.sql.helpers import employee as helper_employee

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
DATA = {"type": "sign_in", "transaction_id": "t" * 24, "server": "https://idp.example.com"}


@pytest.fixture
def fcm(tmp_path: Path) -> Iterator[tuple[FcmStandin, FcmProvider]]:
    with fcm_standin(tmp_path) as standin:
        account_pem, email = standin.private_key_pem, standin.client_email
        provider = FcmProvider(FcmSettings(
            project_id=standin.project_id, client_email=email, private_key_pem=account_pem,
            token_uri=standin.url + "/token", endpoint=standin.url,
            ca_file=tmp_path / "standin.crt",
        ))  # fmt: skip
        yield standin, provider
        provider.close()


@pytest.fixture
def apns(tmp_path: Path) -> Iterator[tuple[ApnsStandin, ApnsProvider]]:
    with apns_standin(tmp_path) as standin:
        provider = ApnsProvider(ApnsSettings(
            team_id=standin.team_id, key_id=standin.key_id, private_key_pem=standin.private_key_pem,
            topic=standin.topic, endpoint=standin.url, ca_file=tmp_path / "standin.crt",
        ))  # fmt: skip
        yield standin, provider
        provider.close()


def test_fcm_delivers_with_the_documented_shape_and_reuses_its_token(
    fcm: tuple[FcmStandin, FcmProvider],
) -> None:
    standin, provider = fcm
    first = provider.send(token="fcm-token-1", data=DATA, ttl=120, now=NOW)
    second = provider.send(token="fcm-token-1", data=DATA, ttl=120, now=NOW)
    assert first.outcome is second.outcome is PushOutcome.DELIVERED
    assert first.detail == "projects/project-x/messages/0:1"
    assert standin.seen[0] == {"token": "fcm-token-1", "data": DATA,
                               "android": {"priority": "HIGH", "ttl": "120s"}}  # fmt: skip
    assert len(standin.issued) == 1  # one OAuth token for both messages


@pytest.mark.parametrize(
    ("answer", "outcome", "retry"),
    [
        ("unregistered", PushOutcome.UNREGISTERED, None),
        ("quota", PushOutcome.BACKOFF, 17),
        ("unavailable", PushOutcome.BACKOFF, 17),
        ("invalid", PushOutcome.FAILED, None),
    ],
)
def test_fcm_errors_are_mapped(
    fcm: tuple[FcmStandin, FcmProvider], answer: str, outcome: PushOutcome, retry: int | None
) -> None:
    standin, provider = fcm
    standin.answers.append(answer)
    result = provider.send(token="fcm-token-1", data=DATA, ttl=120, now=NOW)
    assert result.outcome is outcome and result.retry_after == retry
    assert result.detail.startswith("FCM ")


def test_apns_delivers_over_http2_with_a_provider_token(
    apns: tuple[ApnsStandin, ApnsProvider],
) -> None:
    standin, provider = apns
    result = provider.send(token="a1b2c3", data=DATA, ttl=120, now=NOW)
    assert result.outcome is PushOutcome.DELIVERED and result.detail == "A1B2C3D4-0000"
    (seen,) = standin.seen
    assert seen["device_token"] == "a1b2c3"
    assert seen["body"]["transaction_id"] == DATA["transaction_id"]
    assert seen["body"]["aps"]["category"] == "HIDEEZ_SIGN_IN"


@pytest.mark.parametrize(
    ("answer", "outcome", "retry"),
    [
        ("unregistered", PushOutcome.UNREGISTERED, None),
        ("bad_token", PushOutcome.UNREGISTERED, None),
        ("too_many", PushOutcome.BACKOFF, 11),
        ("internal", PushOutcome.BACKOFF, 30),
    ],
)
def test_apns_errors_are_mapped(
    apns: tuple[ApnsStandin, ApnsProvider], answer: str, outcome: PushOutcome, retry: int | None
) -> None:
    standin, provider = apns
    standin.answers.append(answer)
    result = provider.send(token="a1b2c3", data=DATA, ttl=120, now=NOW)
    assert result.outcome is outcome and result.retry_after == retry


def test_an_unreachable_service_is_a_back_off_not_an_error(tmp_path: Path) -> None:
    with apns_standin(tmp_path) as standin:
        settings = ApnsSettings(
            team_id=standin.team_id,
            key_id=standin.key_id,
            private_key_pem=standin.private_key_pem,
            topic=standin.topic,
            endpoint="https://localhost:9",
            ca_file=tmp_path / "standin.crt",
        )
        provider = ApnsProvider(settings)
        result = provider.send(token="a1b2c3", data=DATA, ttl=120, now=NOW)
        provider.close()
    assert result.outcome is PushOutcome.BACKOFF and "unreachable" in result.detail


def device(employee_id: str) -> Device:
    return Device(device_id="dev-" + "x" * 16, employee_id=employee_id, public_key=b"k",
                  display_name="phone", platform="android", status=DeviceStatus.ACTIVE,
                  created_at=NOW, push_provider="fcm", push_token="fcm-token-1")  # fmt: skip


def test_unregistered_marks_the_device_and_back_off_holds_further_pushes(
    fcm: tuple[FcmStandin, FcmProvider], db: Database
) -> None:
    standin, provider = fcm
    employee = EmployeeRepository(db).add(helper_employee(), now=NOW)
    devices = DeviceRepository(db)
    devices.replace_for_employee(device(employee.id))
    services = AuthenticatorServices(settings=AuthenticatorSettings(), devices=devices,
                                     totp=TotpRepository(db), secrets=SecretBox(),
                                     providers={"fcm": provider})  # fmt: skip
    store = MemoryStore()
    challenge, _ = create_challenge(store, employee_id=employee.id, device_id="dev-" + "x" * 16,
                                    relying_party="rp", ip="1.2.3.4", user_agent="ua",
                                    location=None, browser="b" * 32, now=NOW, ttl=120)  # fmt: skip
    standin.answers.extend(["quota"])
    stored = devices.for_employee(employee.id)
    assert stored is not None
    first = services.notify(store, stored, challenge, server="https://idp", now=NOW)
    assert first is not None and first.outcome is PushOutcome.BACKOFF
    held = services.notify(store, stored, challenge, server="https://idp", now=NOW)
    assert held is not None and held.outcome is PushOutcome.BACKOFF
    assert len(standin.seen) == 1  # the second push never reached the service
    store.delete("push:backoff:fcm")
    standin.answers.append("unregistered")
    gone = services.notify(store, stored, challenge, server="https://idp", now=NOW)
    assert gone is not None and gone.outcome is PushOutcome.UNREGISTERED
    marked = devices.for_employee(employee.id)
    assert marked is not None and marked.push_unregistered_at == NOW
    assert services.notify(store, marked, challenge, server="https://idp", now=NOW) is None
