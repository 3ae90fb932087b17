"""What a load run is made of: the IdP's configuration (the demo's, on the given database and
Redis, with the app push factor and an OIDC client), the virtual users (an employee each, with
a passkey and a phone enrolled over HTTP as a person would), and the audit count afterwards."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from joserfc.jwk import KeySet

from authenticator import Authenticator
from bench.load.signins import CLIENT_ID, REDIRECT_URI, Relying, User, authn_request
from bench.servers import csrf_of
from flask_idp.commands import enrolment_link
from flask_idp.demo import prepare, seed
from idp.config.loader import load_config
from idp.directory.model import Employee
from idp.runtime import Runtime, build_runtime
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

#: no password is used here: fixed (OWASP-minimum) argon2 costs spare each instance's start the
#: measurement of this machine's
EXTRA_YAML = """
passwords:
  argon2: {memory_kib: 19456, time_cost: 2, parallelism: 1}
limits: {login_attempts_per_minute: 100000000}
authenticator:
  push_per_user_per_minute: 60
  push_per_address_per_minute: 100000
oidc:
  clients_file: clients.yaml
"""
CLIENTS_YAML = f"""\
clients:
  - client_id: {CLIENT_ID}
    secret: {{file: client-secret}}
    redirect_uris: [{REDIRECT_URI}]
    token_endpoint_auth_method: client_secret_basic
    refresh_tokens: false
"""
#: what each completed sign-in leaves in the audit: the ceremony and the answer to the RP
AUDITED = ("login_success", "sso_issued")


@dataclass(frozen=True)
class Deployment:
    work: Path
    config: Path
    base_url: str
    sp_settings: dict[str, Any]
    client_secret: str


def configure(work: Path, *, public_port: int, database_url: str, store_url: str) -> Deployment:
    """The demo's configuration under ``work`` with ``public_port`` as the public (proxy) port."""
    config = prepare(work, port=public_port, sp_port=public_port + 1)
    text = (
        config.read_text()
        .replace(f"sqlite:///{work.resolve()}/idp.sqlite3", database_url)
        .replace("ephemeral_url: memory://", f"ephemeral_url: '{store_url}'")
        .replace("    factors: [passkey]\n", "    factors: [passkey, authenticator_app]\n")
    )
    config.write_text(text + EXTRA_YAML)
    secret = "load-client-secret-" + secrets.token_urlsafe(16)
    (work / "client-secret").write_text(secret)
    (work / "clients.yaml").write_text(CLIENTS_YAML)
    settings = json.loads((work / "sp/settings.json").read_text())
    return Deployment(work, config, f"http://localhost:{public_port}", settings, secret)


def seeded_runtime(deployment: Deployment, usernames: list[str]) -> Runtime:
    """Migrate and seed the database, add one employee per virtual user; the runtime stays
    open for enrolment links and the audit count."""
    runtime = build_runtime(load_config(deployment.config))
    seed(runtime)
    for name in usernames:
        person = Employee(id=f"id-{name}", username=name, email=f"{name}@load.example",
                          first_name=name, last_name="Load")  # fmt: skip
        runtime.employees.add(person, now=runtime.now())
    return runtime


def enrol_user(deployment: Deployment, runtime: Runtime, username: str, phones: Path) -> User:
    """A passkey and a phone for ``username``, both enrolled over HTTP (through the proxy)."""
    base = deployment.base_url
    with httpx.Client(base_url=base, timeout=30) as http:
        token = enrolment_link(runtime, username).rsplit("/", 1)[1]
        headers = {"X-CSRF-Token": csrf_of(http.get(f"/enrol/{token}").text)}
        options = http.post("/passkey/register/options", json={"token": token}, headers=headers)
        options.raise_for_status()
        body = options.json()
        key = CraftedKey(user_handle=f"id-{username}".encode(), rp_id="localhost")
        credential = key.register(unb64u(body["publicKey"]["challenge"]), flags=UP | UV,
                                  origin=base)  # fmt: skip
        http.post("/passkey/register/verify", headers=headers, json={
            "token": token, "handle": body["handle"],
            "credential": json.loads(credential)}).raise_for_status()  # fmt: skip
        token = enrolment_link(runtime, username).rsplit("/", 1)[1]
        headers = {"X-CSRF-Token": csrf_of(http.get(f"/enrol/{token}").text)}
        started = http.post("/authenticator/enrol/start", json={"token": token}, headers=headers)
        started.raise_for_status()
    retry_after = [""]

    def remember(response: httpx.Response) -> None:
        retry_after[0] = response.headers.get("Retry-After", "")

    http = httpx.Client(timeout=30, event_hooks={"response": [remember]})
    phone = Authenticator(phones / username, http=http)
    phone.enrol(started.json()["uri"], display_name=f"{username}'s phone")
    browser = httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False)
    return User(username, key, phone, browser, retry_after)


def relying(deployment: Deployment, *, saml_requests: int) -> Relying:
    keys = httpx.get(deployment.base_url + "/oidc/jwks", timeout=30).json()
    prepared = [authn_request(deployment.sp_settings) for _ in range(saml_requests)]
    return Relying(deployment.base_url, deployment.sp_settings, deployment.client_secret,
                   KeySet.import_key_set(keys), prepared)  # fmt: skip


def audit_mark(runtime: Runtime) -> int:
    """The last audit sequence number now (events after it belong to what follows)."""
    with runtime.db.engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM audit_events")).scalar_one()
        )


def audited(runtime: Runtime, *, after: int) -> Counter[tuple[str, str]]:
    """Successful ``AUDITED`` events after sequence ``after``, per (username, kind)."""
    query = sa.text(
        "SELECT employee_id, kind, count(*) FROM audit_events WHERE seq > :after "
        "AND kind IN ('login_success', 'sso_issued') AND outcome = 'success' "
        "GROUP BY employee_id, kind"
    )
    with runtime.db.engine.connect() as conn:
        rows = conn.execute(query, {"after": after}).all()
    return Counter({(str(e).removeprefix("id-"), k): int(n) for e, k, n in rows})


def audit_lost(completed: Counter[str], found: Counter[tuple[str, str]]) -> Counter[str]:
    """Events completed sign-ins should have left and the audit does not hold, per kind: per
    user and kind, completed sign-ins minus events found (a failed sign-in may leave a ceremony
    event too, so the count is per user and never negative)."""
    lost: Counter[str] = Counter()
    for user, count in completed.items():
        for kind in AUDITED:
            lost[kind] += max(0, count - found[(user, kind)])
    return +lost
