"""The app API and the enrolment endpoints under hostile input: forged signatures, replays,
answers after expiry or for another person's request, dead or reused enrolment codes,
oversized fields — each a clear error, nothing stored, nothing signed in. And no API ever
hands a TOTP secret back."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authenticator import AuthenticatorError
from idp.factors.authenticator import wire
from tests.e2e.authenticator.helpers import Browserless, enrolled_app, new_person
from tests.e2e.authenticator.test_totp import ticket_of
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(app_server: RunningServer) -> RunningServer:
    return app_server


def signed(
    key: ec.EllipticCurvePrivateKey, device_id: str, method: str, path: str, body: bytes,
    *, timestamp: int | None = None, nonce: str | None = None,
) -> dict[str, str]:  # fmt: skip
    ts, nonce = timestamp or int(time.time()), nonce or secrets.token_urlsafe(18)
    message = wire.canonical_request(device_id=device_id, method=method, path=path,
                                     timestamp=ts, nonce=nonce, body=body)  # fmt: skip
    return {
        wire.HEADER_DEVICE: device_id,
        wire.HEADER_TIMESTAMP: str(ts),
        wire.HEADER_NONCE: nonce,
        wire.HEADER_SIGNATURE: wire.b64u(key.sign(message, ec.ECDSA(hashes.SHA256()))),
    }


def registration(token: str, key: ec.EllipticCurvePrivateKey, **over: Any) -> dict[str, Any]:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"token": token, "device_id": secrets.token_urlsafe(18), "public_key": wire.b64u(public),
            "display_name": "Hostile phone", "platform": "android", **over}  # fmt: skip


def enrol_token(server: RunningServer, username: str) -> str:
    code = Browserless(server).enrolment_code(username)
    return wire.EnrolmentInvite.parse(code).token


def post_register(server: RunningServer, body: dict[str, Any],
                  key: ec.EllipticCurvePrivateKey) -> httpx.Response:  # fmt: skip
    raw = json.dumps(body).encode()
    headers = signed(key, body["device_id"], "POST", wire.REGISTER_PATH, raw)
    return httpx.post(server.url(wire.REGISTER_PATH), content=raw, headers=headers)


def test_registration_signed_by_another_key_is_refused_and_keeps_the_code(
    server: RunningServer,
) -> None:
    token = enrol_token(server, new_person(server))
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    body = registration(token, key)
    forged = post_register(server, body, other)
    assert forged.status_code == 401 and forged.json()["error"] == "device_signature_invalid"
    assert server.runtime.authenticator.devices.get(body["device_id"]) is None
    # The forger burnt nothing: the owner still enrols with the same code, once.
    assert post_register(server, body, key).status_code == 200
    again = post_register(server, registration(token, key), key)
    assert again.status_code == 410 and again.json()["error"] == "enrolment_token_invalid"


def test_an_enrolment_cannot_take_another_persons_device_id(server: RunningServer) -> None:
    victim = new_person(server)
    key = ec.generate_private_key(ec.SECP256R1())
    body = registration(enrol_token(server, victim), key)
    assert post_register(server, body, key).status_code == 200
    attacker_key = ec.generate_private_key(ec.SECP256R1())
    stolen = registration(enrol_token(server, new_person(server)), attacker_key,
                          device_id=body["device_id"])  # fmt: skip
    refused = post_register(server, stolen, attacker_key)
    assert refused.status_code == 409 and refused.json()["error"] == "device_id_taken"
    kept = server.runtime.authenticator.devices.get(body["device_id"])
    assert kept is not None and kept.employee_id == server.employee(victim).id


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"display_name": "x" * 65}, "longer than 64"),
        ({"push_token": "t" * 5000, "push_provider": "fcm"}, "longer than 4096"),
        ({"platform": "toaster"}, "must be one of"),
        ({"public_key": wire.b64u(b"\x30" * 40)}, "SubjectPublicKeyInfo"),
        ({"push_provider": "fcm"}, "both push_provider and push_token"),
        ({"extra": "field"}, "unknown fields"),
        ({"display_name": "bad\nname"}, "control characters"),
    ],
)
def test_malformed_registrations_store_nothing(
    server: RunningServer, over: dict[str, Any], expected: str
) -> None:
    token = enrol_token(server, new_person(server))
    key = ec.generate_private_key(ec.SECP256R1())
    body = registration(token, key, **over)
    refused = post_register(server, body, key)
    assert refused.status_code == 400 and expected in refused.json()["error_description"]
    assert server.runtime.authenticator.devices.get(body["device_id"]) is None


def test_oversized_and_non_json_bodies(server: RunningServer) -> None:
    big = httpx.post(server.url(wire.REGISTER_PATH), content=b"{" + b" " * 9000 + b"}")
    assert big.status_code == 413
    key = ec.generate_private_key(ec.SECP256R1())
    raw = b"[not json"
    headers = signed(key, "d" * 20, "POST", wire.REGISTER_PATH, raw)
    bad = httpx.post(server.url(wire.REGISTER_PATH), content=raw, headers=headers)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error_description"]


def test_expired_enrolment_code(server: RunningServer) -> None:
    token = enrol_token(server, new_person(server))
    server.runtime.ephemeral.delete(
        "app-enrol:" + __import__("hashlib").sha256(token.encode()).hexdigest()
    )  # what the store's 10-minute TTL does
    key = ec.generate_private_key(ec.SECP256R1())
    refused = post_register(server, registration(token, key), key)
    assert refused.status_code == 410 and "expired" in refused.json()["error_description"]
    qr = httpx.get(server.url("/authenticator/enrol/qr.png"), params={"token": token})
    assert qr.status_code == 410


def test_qr_codes_are_served_for_a_live_code_only(server: RunningServer) -> None:
    token = enrol_token(server, new_person(server))
    png = httpx.get(server.url("/authenticator/enrol/qr.png"), params={"token": token})
    svg = httpx.get(server.url("/authenticator/enrol/qr.svg"), params={"token": token})
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert httpx.get(server.url("/authenticator/enrol/qr.gif")).status_code == 404
    assert httpx.get(server.url("/authenticator/enrol/qr.png"),
                     params={"token": "x" * 500}).status_code == 410  # fmt: skip


def start_push(server: RunningServer, username: str) -> tuple[Browserless, dict[str, Any]]:
    client = Browserless(server)
    started = client.post("/push/login/start", {"username": username})
    assert started.status_code == 200, started.text
    return client, started.json()


def test_replayed_and_forged_answers(server: RunningServer, tmp_path: Path) -> None:
    person = new_person(server)
    app = enrolled_app(server, person, tmp_path)
    _, shown = start_push(server, person)
    (pending,) = app.pending()
    state = json.loads((tmp_path / "authenticator.json").read_text())
    device_id = state["enrolment"]["device_id"]
    key = serialization.load_pem_private_key((tmp_path / "device-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    path = wire.answer_path(pending.transaction_id)
    raw = json.dumps({"nonce": pending.nonce, "decision": "approve",
                      "number": shown["number"]}).encode()  # fmt: skip
    forged_key = ec.generate_private_key(ec.SECP256R1())
    forged = httpx.post(server.url(path), content=raw,
                        headers=signed(forged_key, device_id, "POST", path, raw))  # fmt: skip
    assert forged.status_code == 401 and forged.json()["error"] == "device_signature_invalid"
    stale = httpx.post(server.url(path), content=raw,
                       headers=signed(key, device_id, "POST", path, raw,
                                      timestamp=int(time.time()) - 600))  # fmt: skip
    assert stale.status_code == 401 and stale.json()["error"] == "device_request_stale"
    headers = signed(key, device_id, "POST", path, raw)
    assert httpx.post(server.url(path), content=raw, headers=headers).status_code == 200
    replay = httpx.post(server.url(path), content=raw, headers=headers)
    assert replay.status_code == 401 and replay.json()["error"] == "replay_detected"
    fresh = httpx.post(server.url(path), content=raw,
                       headers=signed(key, device_id, "POST", path, raw))  # fmt: skip
    assert fresh.status_code == 410 and "already answered" in fresh.json()["error_description"]


def test_a_device_cannot_answer_another_persons_request(
    server: RunningServer, tmp_path: Path
) -> None:
    alice_app = enrolled_app(server, new_person(server), tmp_path / "alice")
    bob = new_person(server)
    bob_app = enrolled_app(server, bob, tmp_path / "bob")
    _, shown = start_push(server, bob)
    (pending,) = bob_app.pending()
    assert alice_app.pending() == []
    with pytest.raises(AuthenticatorError) as refused:
        alice_app._call(
            "POST",
            wire.answer_path(pending.transaction_id),
            {"nonce": pending.nonce, "decision": "approve", "number": shown["number"]},
        )
    assert refused.value.status == 403 and refused.value.error == "push_challenge_not_yours"
    # And a browser other than the one that started it learns nothing and finishes nothing.
    stranger = Browserless(server)
    peek = stranger.post("/push/login/poll", {"transaction_id": shown["transaction_id"]})
    assert peek.status_code == 403
    assert bob_app.deny() == "denied"


def test_a_push_finishes_only_the_sign_in_it_was_started_for(
    server: RunningServer, tmp_path: Path
) -> None:
    person = new_person(server)
    app = enrolled_app(server, person, tmp_path)
    client = Browserless(server)  # one browser, two tabs: two sign-ins (tickets)
    first, second = (ticket_of(client, server.base_url, server) for _ in "12")

    def post(path: str, ticket: str, **body: object) -> requests.Response:
        return client.post(path, {"ticket": ticket, **body}, page=f"/login?ticket={ticket}")

    shown = post("/push/login/start", first, username=person).json()
    again = post("/push/login/start", first, username=person)  # a reload: the same request
    assert again.json()["transaction_id"] == shown["transaction_id"]
    other = post("/push/login/start", second, username=person)
    assert other.status_code == 429 and other.json()["error"] == "push_outstanding"
    assert app.approve(shown["number"]) == "approved"
    txn = shown["transaction_id"]
    taken = post("/push/login/poll", second, transaction_id=txn)
    assert taken.status_code == 403 and "another sign-in" in taken.json()["error_description"]
    done = post("/push/login/poll", first, transaction_id=txn)
    assert done.status_code == 200 and done.json()["redirect"], done.text


def test_an_unknown_user_gets_a_decoy_no_app_can_answer(server: RunningServer) -> None:
    client, shown = start_push(server, "nobody-at-all")
    assert 10 <= shown["number"] <= 99
    pending = client.post("/push/login/poll", {"transaction_id": shown["transaction_id"]})
    assert pending.json() == {"state": "pending", "delivery": "sent"}


def test_no_api_returns_a_totp_secret(server: RunningServer) -> None:
    client = Browserless(server)
    person = new_person(server)
    token = server.enrolment_link(person).rsplit("/", 1)[1]
    shown = client.post("/totp/enrol/start", {"token": token}, page=f"/enrol/{token}").json()
    secret = shown["secret"]
    stored = server.runtime.ephemeral.get("totp-pending:" + server.employee(person).id)
    assert stored is not None and secret.encode() not in stored  # encrypted even while pending
    for path in ("/", f"/enrol/{token}", "/login"):
        assert secret not in client.http.get(server.url(path), timeout=10).text
    # Starting again makes a new secret; the old one is never shown again.
    second = client.post("/totp/enrol/start", {"token": token}, page=f"/enrol/{token}").json()
    assert second["secret"] != secret
