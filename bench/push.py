"""Authenticator-app figures through HTTP, the IdP on one core (one gunicorn sync worker
pinned to CPU 0, load from processes pinned to CPU 1), each beside this machine's limit
(bench/limits.py) and the trivial request measured in the same run:

  1. push approvals completed per second: challenge created (POST /push/login/start, which
     queues the FCM push for the background sender), the phone's signed poll
     (GET …/challenges) and signed answer (POST …/answer), and the page's poll that finishes
     the sign-in and creates the session — 4 requests, 2 ES256 verifies. Every phone has an
     FCM token; the FCM stand-in (tests/…/push_standins.py) answers after FCM_LATENCY. Beside
     it, the synchronous path this replaced (the start request waiting for FCM): the same
     worker held for the FCM round trip measured in this run, 1 / (1/rate + round trip);
  2. TOTP verifications per second through POST /totp/login/verify (each one a fresh code:
     one employee per verification, as a code cannot be used twice) — 1 request;
  3. waiting sign-ins one process holds: a waiting page polls once a second, so one worker
     holds as many as it answers pending polls per second; and the short-lived store's bytes
     per waiting sign-in (one challenge record and the employee's lock).

Run: .venv/bin/python bench/push.py [seconds]
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import secrets
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from bench import limits  # noqa: E402
from bench.servers import (  # noqa: E402
    CLIENT_CPU,
    SERVER_CPU,
    Server,
    free_port,
    stop,
    trivial_server,
)
from flask_idp.demo import prepare, seed  # noqa: E402
from idp.config.authenticator import FcmSettings  # noqa: E402
from idp.config.loader import load_config  # noqa: E402
from idp.directory.model import Employee  # noqa: E402
from idp.factors.authenticator import push, wire  # noqa: E402
from idp.factors.authenticator.model import Device, DeviceStatus, TotpCredential  # noqa: E402
from idp.factors.authenticator.providers import FcmProvider  # noqa: E402
from idp.flows.totp_step import SECRET_PURPOSE  # noqa: E402
from idp.runtime import Runtime, build_runtime  # noqa: E402
from idp.secrets import secret_aad  # noqa: E402
from idp.store.ephemeral import MemoryStore  # noqa: E402
from tests.idp.factors.authenticator.push_standins import FcmStandin, fcm_standin  # noqa: E402

WORKERS = 3
#: an assumed FCM HTTP v1 send round trip (the stand-in sleeps this long before answering)
FCM_LATENCY = 0.08
CONFIG = """
limits: {login_attempts_per_minute: 100000000}
authenticator:
  push_per_user_per_minute: 60
  push_per_address_per_minute: 100000
  totp: {lockout_attempts: 100}
"""


def setup(work: Path, port: int, fcm: FcmStandin) -> tuple[Path, Runtime]:
    config = prepare(work, port=port, sp_port=free_port())
    text = (
        config.read_text()
        .replace("    factors: [passkey]\n", "    factors: [passkey, authenticator_app, totp]\n")
        .replace("    user_verification: true\n", "    user_verification: false\n")
    )
    (work / "fcm.json").write_text(fcm.service_account())
    fcm_section = (
        f"  fcm:\n    project_id: {fcm.project_id}\n"
        f"    service_account: {{file: {work}/fcm.json}}\n"
        f"    endpoint: {fcm.url}\n    ca_file: {work}/fcm/standin.crt\n"
    )
    config.write_text(text + CONFIG + fcm_section)
    runtime = build_runtime(load_config(config))
    seed(runtime)
    return config, runtime


def add_people(rt: Runtime, prefix: str, count: int) -> list[str]:
    names = []
    for i in range(count):
        name = f"{prefix}{i}"
        rt.employees.add(Employee(id=f"{prefix}-{i}", username=name, email=f"{name}@b.example",
                                  first_name=name, last_name="B"), now=rt.now())  # fmt: skip
        names.append(name)
    return names


def add_phones(rt: Runtime, names: list[str]) -> list[tuple[str, str, bytes]]:
    """(username, device id, private key PEM) per employee, enrolled straight in the store."""
    phones = []
    for name in names:
        key = ec.generate_private_key(ec.SECP256R1())
        device_id = secrets.token_urlsafe(18)
        employee = rt.employees.get_by_username(name)
        assert employee is not None
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        rt.authenticator.devices.replace_for_employee(Device(
            device_id=device_id, employee_id=employee.id, public_key=public,
            display_name="bench", platform="android", status=DeviceStatus.ACTIVE,
            created_at=rt.now(), push_provider="fcm", push_token=f"fcm-{device_id}"))  # fmt: skip
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        phones.append((name, device_id, pem))
    return phones


def add_totp(rt: Runtime, names: list[str]) -> list[tuple[str, str]]:
    out = []
    for name in names:
        employee = rt.employees.get_by_username(name)
        assert employee is not None
        secret = pyotp.random_base32(32)
        sealed = rt.secrets.encrypt(secret.encode(), aad=secret_aad(SECRET_PURPOSE, employee.id))
        rt.authenticator.totp.put(TotpCredential(
            employee_id=employee.id, secret_encrypted=sealed, algorithm="SHA1", digits=6,
            period=30, created_at=rt.now(), confirmed=True))  # fmt: skip
        out.append((name, secret))
    return out


class Client:
    """A keep-alive connection with the flow cookie and CSRF token of one browser."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        page = self.call("GET", "/login")[1].decode()
        self.csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers={
            "Host": "localhost", "Cookie": cookie, "Content-Type": "application/json",
            **(headers or {})})  # fmt: skip
        response = self.conn.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        status, data = self.call("POST", path, json.dumps(body).encode(),
                                 {"X-CSRF-Token": self.csrf})  # fmt: skip
        return status, json.loads(data)

    def signed(self, key: Any, device_id: str, method: str, path: str,
               body: bytes = b"") -> tuple[int, Any]:  # fmt: skip
        ts, nonce = int(time.time()), secrets.token_urlsafe(18)
        message = wire.canonical_request(device_id=device_id, method=method, path=path,
                                         timestamp=ts, nonce=nonce, body=body)  # fmt: skip
        signature = wire.b64u(key.sign(message, ec.ECDSA(hashes.SHA256())))
        status, data = self.call(method, path, body or None, {
            wire.HEADER_DEVICE: device_id, wire.HEADER_TIMESTAMP: str(ts),
            wire.HEADER_NONCE: nonce, wire.HEADER_SIGNATURE: signature})  # fmt: skip
        return status, json.loads(data)


def _approvals(port: int, phones: list[tuple[str, str, bytes]], seconds: float,
               out: mp.Queue) -> None:  # type: ignore[type-arg]  # fmt: skip
    os.sched_setaffinity(0, CLIENT_CPU)
    client = Client(port)
    keys = [(n, d, serialization.load_pem_private_key(p, None)) for n, d, p in phones]
    done, begin, i = 0, time.perf_counter(), 0
    while time.perf_counter() - begin < seconds:
        name, device_id, key = keys[i % len(keys)]
        i += 1
        status, shown = client.post("/push/login/start", {"username": name})
        assert status == 200, shown
        status, waiting = client.signed(key, device_id, "GET", wire.CHALLENGES_PATH)
        (challenge,) = waiting["challenges"]
        body = json.dumps(
            {
                "nonce": challenge["nonce"],
                "decision": "approve",
                "number": shown["number"],
                "user_verified": True,
            }
        ).encode()
        path = wire.answer_path(challenge["transaction_id"])
        status, answer = client.signed(key, device_id, "POST", path, body)
        assert status == 200 and answer["decision"] == "approved", answer
        status, finished = client.post(
            "/push/login/poll", {"transaction_id": shown["transaction_id"]}
        )
        assert status == 200 and finished["redirect"] == "/", finished
        done += 1
    out.put(done / (time.perf_counter() - begin))


def _totp(port: int, accounts: list[tuple[str, str]], seconds: float,
          out: mp.Queue) -> None:  # type: ignore[type-arg]  # fmt: skip
    os.sched_setaffinity(0, CLIENT_CPU)
    client = Client(port)
    codes = [(n, pyotp.TOTP(s).now()) for n, s in accounts]
    done, begin = 0, time.perf_counter()
    for name, code in codes:
        if time.perf_counter() - begin > seconds:
            break
        status, answer = client.post("/totp/login/verify", {"username": name, "code": code})
        assert status == 200, answer
        done += 1
    out.put(done / (time.perf_counter() - begin))


def _pending_polls(port: int, username: str, seconds: float,
                   out: mp.Queue) -> None:  # type: ignore[type-arg]  # fmt: skip
    os.sched_setaffinity(0, CLIENT_CPU)
    client = Client(port)
    status, shown = client.post("/push/login/start", {"username": username})
    assert status == 200, shown
    done, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < seconds:
        status, state = client.post("/push/login/poll", {"transaction_id": shown["transaction_id"]})
        assert status == 200 and state["state"] == "pending", state
        done += 1
    out.put(done / (time.perf_counter() - begin))


def in_parallel(target: Any, args: list[tuple[Any, ...]]) -> float:
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=target, args=(*a, queue)) for a in args]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def fcm_round_trip(fcm: FcmStandin, ca_file: Path, count: int = 20) -> float:
    """Seconds per FCM send from this process (what a start request used to wait for)."""
    provider = FcmProvider(FcmSettings(project_id=fcm.project_id, client_email=fcm.client_email,
                                       private_key_pem=fcm.private_key_pem,
                                       token_uri=fcm.url + "/token", endpoint=fcm.url,
                                       ca_file=ca_file))  # fmt: skip
    data = {"type": "sign_in", "transaction_id": "t" * 24, "server": "https://idp"}
    now = dt.datetime.now(dt.UTC)
    provider.send(token="warm-up", data=data, ttl=120, now=now)  # the OAuth token, once
    begin = time.perf_counter()
    for _ in range(count):
        provider.send(token="bench", data=data, ttl=120, now=now)
    provider.close()
    return (time.perf_counter() - begin) / count


def bytes_per_waiting_sign_in(count: int = 5000) -> float:
    """Python heap of the in-process store per pending challenge (Redis keeps less)."""
    store = MemoryStore()
    now = dt.datetime.now(dt.UTC)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(count):
        push.create_challenge(store, employee_id=f"emp-{i:06d}", device_id="d" * 24,
                              relying_party="GitHub Enterprise", ip="203.0.113.77",
                              user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
                              location=None, browser="b" * 32, now=now, ttl=120)  # fmt: skip
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return grown / count


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    os.sched_setaffinity(0, CLIENT_CPU)
    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    (work / "fcm").mkdir()
    with fcm_standin(work / "fcm") as fcm:
        fcm.latency = FCM_LATENCY
        run(work, seconds, fcm)


def run(work: Path, seconds: float, fcm: FcmStandin) -> None:
    port = free_port()
    config, rt = setup(work, port, fcm)
    phones = add_phones(rt, add_people(rt, "p", 1200))
    accounts = add_totp(rt, add_people(rt, "t", int(900 * seconds)))
    waiting_user = add_phones(rt, add_people(rt, "w", WORKERS))
    rt.close()
    with Server(port, "flask_idp.wsgi:create()", HIDEEZ_IDP_CONFIG=str(config)):
        approvals = in_parallel(_approvals, [(port, phones[i::WORKERS], seconds)
                                             for i in range(WORKERS)])  # fmt: skip
        totp = in_parallel(_totp, [(port, accounts[i::WORKERS], seconds)
                                   for i in range(WORKERS)])  # fmt: skip
        polls = in_parallel(_pending_polls, [(port, w[0], seconds) for w in waiting_user])
    pushed = len(fcm.seen)
    round_trip = fcm_round_trip(fcm, work / "fcm/standin.crt")
    synchronous = 1 / (1 / approvals + round_trip)
    costs = limits.measure(key_path=work / "keys/idp-signing.key", start_server=trivial_server,
                           stop_server=stop, port=free_port(), server_cpus=SERVER_CPU,
                           client_cpus=CLIENT_CPU, seconds=seconds)  # fmt: skip
    trivial = 1 / costs.request
    per_waiting = bytes_per_waiting_sign_in()
    print(f"this machine: trivial Flask request {trivial:7.0f}/s, ES256 verify "
          f"{1 / costs.operations['es256_verify']:6.0f}/s (server CPU)")  # fmt: skip
    print("authenticator app through HTTP, server on one core:")
    approve_limit = costs.limit(requests=4, es256_verify=2)
    one = costs.limit(requests=1)
    for label, rate, limit in (
        ("push approvals (4 requests, 2 device signatures)", approvals, approve_limit),
        ("TOTP verifications (1 request)", totp, one),
        ("pending polls (1 request)", polls, one),
    ):
        print(f"  {label:<49} {rate:8.1f} /s   ratio {rate / trivial:4.2f}x trivial   "
              f"{limits.of_limit(rate, limit)}")  # fmt: skip
    print(f"  push approvals with the push queued (the request never waits for FCM): "
          f"{approvals:.1f} /s; pushes the sender delivered meanwhile: {pushed}")  # fmt: skip
    print(f"  the synchronous path, FCM round trip {round_trip * 1000:.0f} ms measured here: "
          f"{synchronous:.1f} /s -> queued/synchronous {approvals / synchronous:.2f}x")  # fmt: skip
    held = int(polls * 1.0)
    print(
        f"  waiting sign-ins one process holds (a poll per second each): {held:,}; "
        f"store memory per waiting sign-in {per_waiting:,.0f} B "
        f"({held * per_waiting / 1e6:.1f} MB for all of them)"
    )


if __name__ == "__main__":
    main()
