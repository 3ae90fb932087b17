"""The Flask app under Flask's test client, over a real runtime (SQLite + the in-process store).

One app per test module with every protocol enabled (the demo SP, WS-Fed for Exchange, OIDC
clients and EAM). Its policy does not require user verification so that soft-webauthn (an
authenticator this project did not write; it never sets UV) can enrol and sign in; the
project's own crafted key is used only for malformed and hostile input.

``stored(runtime)`` snapshots everything stored — every table row and every short-lived key —
so a test can assert that a refused request left nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, select
from werkzeug.test import TestResponse

from flask_idp.app import create_app
from flask_idp.commands import enrolment_link
from flask_idp.demo import prepare, seed
from idp.config.loader import load_config
from idp.directory.model import Employee
from idp.runtime import Runtime, build_runtime
from idp.store.ephemeral import MemoryStore
from tests.e2e.entra_sim import oidc_section
from tests.e2e.test_wsfed_exchange import WSFED_YAML
from tests.idp.factors.passkey_fakes import options_for_soft, soft_device, soft_to_json

PORT, SP_PORT = 18080, 18081
BASE = f"http://localhost:{PORT}"
#: the tables an audited refusal writes to
AUDIT = ("audit_events", "audit_chain_head")
_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
_NO_UV_POLICY = {
    "    user_verification: true\n"
    "    authn_context_class_ref: https://refeds.org/profile/mfa\n"
    "    acr: https://refeds.org/profile/mfa\n": "    user_verification: false\n",
    "webauthn:\n": "webauthn:\n  user_verification: preferred\n",
}


class MovableClock:
    """The runtime's clock: the real time plus an offset a test may move (reset after each)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Shell:
    app: Flask
    runtime: Runtime
    directory: Path
    clock: MovableClock

    def enrolment_token(self, username: str) -> str:
        return enrolment_link(self.runtime, username).rsplit("/", 1)[1]

    def new_employee(self) -> str:
        """A new employee with no passkey yet (tests stay independent in a shared app)."""
        username = f"user-{secrets.token_hex(4)}"
        self.runtime.employees.add(
            Employee(id=secrets.token_hex(8), username=username, email=f"{username}@example.com",
                     first_name="New", last_name="Comer", external_ids={}),
            now=self.runtime.now(),
        )  # fmt: skip
        return username

    def employee_id(self, username: str) -> str:
        employee = self.runtime.employees.get_by_username(username)
        assert employee is not None, username
        return employee.id


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    directory = tmp_path_factory.mktemp("flask_idp")
    config_path = prepare(directory, port=PORT, sp_port=SP_PORT)
    text = config_path.read_text()
    for old, new in _NO_UV_POLICY.items():
        assert old in text, old
        text = text.replace(old, new)
    # EAM's Entra keys are never fetched here: no test gets as far as a valid hint.
    extra = oidc_section(directory / "oidc", jwks_url="http://127.0.0.1:9/jwks")
    extra = extra.replace("saml:\n  enabled: false\n", "")
    config_path.write_text(text + extra + WSFED_YAML)
    clock = MovableClock()
    runtime = build_runtime(load_config(config_path), clock=clock)
    seed(runtime)
    yield Shell(app=create_app(runtime), runtime=runtime, directory=directory, clock=clock)
    runtime.audit.flush()
    runtime.db.engine.dispose()


@dataclass(frozen=True)
class Stored:
    rows: dict[str, list[str]]
    #: live short-lived keys and a digest of each value (expiry times left out)
    ephemeral: dict[str, str]

    def changed_tables(self, other: Stored) -> set[str]:
        return {t for t in self.rows.keys() | other.rows.keys() if self.rows[t] != other.rows[t]}


_REFLECTED: dict[int, MetaData] = {}


def _metadata(runtime: Runtime) -> MetaData:
    # Reflecting the schema costs more than reading the rows; the schema does not change.
    if id(runtime) not in _REFLECTED:
        _REFLECTED[id(runtime)] = MetaData()
        _REFLECTED[id(runtime)].reflect(runtime.db.engine)
    return _REFLECTED[id(runtime)]


def stored(runtime: Runtime) -> Stored:
    """Every row of every table, and the short-lived store's live keys."""
    runtime.audit.flush()
    metadata = _metadata(runtime)
    rows: dict[str, list[str]] = {}
    with runtime.db.engine.connect() as conn:
        for name, table in metadata.tables.items():
            rows[name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    store = runtime.ephemeral
    assert isinstance(store, MemoryStore)
    # The in-process store has no listing API; its contents are read directly for the test.
    with store._lock:
        live = {k: e for k in list(store._data) if (e := store._live(k)) is not None}
        ephemeral = {k: repr(sorted(e.value.items()) if isinstance(e.value, dict) else e.value)
                     for k, e in live.items()}  # fmt: skip
    return Stored(rows=rows, ephemeral=ephemeral)


def audit_kinds(runtime: Runtime) -> list[str]:
    runtime.audit.flush()
    return [e.kind.value for e in runtime.audit.list(limit=500).items]


class Browser:
    """Flask's test client with the cookies of one browser and a soft-webauthn passkey."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.http: FlaskClient = shell.app.test_client()
        self.device = soft_device()
        self.employee_id = ""

    def csrf(self, path: str = "/login") -> str:
        page = self.http.get(path)
        match = _CSRF.search(page.get_data(as_text=True))
        assert match, f"no CSRF token on {path}: {page.status_code}"
        return match.group(1)

    def post_json(self, path: str, body: Any, csrf: str | None) -> TestResponse:
        headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
        return self.http.post(path, data=json.dumps(body), headers=headers,
                              content_type="application/json")  # fmt: skip

    def enrol(self, username: str) -> str:
        """Enrol a soft-webauthn passkey through a new enrolment link; return its token."""
        token = self.shell.enrolment_token(username)
        self.employee_id = self.shell.employee_id(username)
        csrf = self.csrf(f"/enrol/{token}")
        options = self.post_json("/passkey/register/options", {"token": token}, csrf)
        assert options.status_code == 200, options.get_data(as_text=True)
        body = options.get_json()
        credential = self.device.create(options_for_soft(json.dumps(body["publicKey"])), BASE)
        verify = self.post_json(
            "/passkey/register/verify",
            {
                "token": token,
                "handle": body["handle"],
                "credential": json.loads(soft_to_json(credential)),
                "name": "soft key",
            },
            csrf,
        )
        assert verify.status_code == 200, verify.get_data(as_text=True)
        return token

    def assertion(self, *, ticket: str = "") -> tuple[str, dict[str, Any], str]:
        """(CSRF token, a fresh sign-in body with handle and soft-webauthn credential)."""
        csrf = self.csrf(f"/login?ticket={ticket}" if ticket else "/login")
        body: dict[str, Any] = {"ticket": ticket} if ticket else {}
        options = self.post_json("/passkey/login/options", body, csrf)
        assert options.status_code == 200, options.get_data(as_text=True)
        data = options.get_json()
        answer = self.device.get(options_for_soft(json.dumps(data["publicKey"])), BASE)
        body = {**body, "handle": data["handle"], "credential": json.loads(soft_to_json(answer))}
        return csrf, body, data["handle"]

    def sign_in(self, *, ticket: str = "") -> TestResponse:
        csrf, body, _ = self.assertion(ticket=ticket)
        return self.post_json("/passkey/login/verify", body, csrf)

    def follow_login(self, response: TestResponse) -> TestResponse:
        """Given a redirect to /login?ticket=…, sign in and fetch the resume URL."""
        location = response.headers.get("Location", "")
        assert "/login?ticket=" in location, (response.status_code, location)
        done = self.sign_in(ticket=location.split("ticket=", 1)[1])
        assert done.status_code == 200, done.get_data(as_text=True)
        return self.http.get(done.get_json()["redirect"])


@pytest.fixture(autouse=True)
def _real_time(shell: Shell) -> Iterator[None]:
    yield
    shell.clock.offset = dt.timedelta(0)


@pytest.fixture
def browser(shell: Shell) -> Browser:
    return Browser(shell)


@pytest.fixture
def alice(shell: Shell) -> Browser:
    """A browser signed in as a new employee with a freshly enrolled soft-webauthn passkey."""
    b = Browser(shell)
    b.enrol(shell.new_employee())
    return b


def json_error(response: TestResponse, status: int, error: str, text: str = "") -> dict[str, Any]:
    """The JSON error shape: error, a description saying what was wrong, an error id."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"error", "error_description", "error_id"}, body
    assert body["error"] == error, body
    assert re.fullmatch(r"[0-9a-f]{12}", body["error_id"]), body
    assert text.lower() in body["error_description"].lower(), body
    assert "Traceback" not in body["error_description"]
    return body


def html_error(response: TestResponse, status: int, text: str = "") -> str:
    """The HTML error page: the message and an error id, no trace."""
    assert response.status_code == status, (response.status_code, _description(response))
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert re.search(r'<code id="error-id">[0-9a-f]{12}</code>', page), _description(response)
    assert "Traceback" not in page and 'File "' not in page
    assert text.lower() in page.lower(), _description(response)
    assert response.headers["Cache-Control"] == "no-store"
    return page


def assert_unchanged(
    before: Stored,
    after: Stored,
    *,
    tables: tuple[str, ...] = (),
    new_keys: tuple[str, ...] = (),
    spent: int = 0,
) -> None:
    """Nothing stored changed, except rows of ``tables`` (e.g. the audit of a refusal),
    short-lived keys starting with ``new_keys`` (e.g. a rate-limit counter), and up to
    ``spent`` existing keys taken or marked used (a single-use value the attempt spent)."""
    assert before.changed_tables(after) <= set(tables), before.changed_tables(after)
    allowed = new_keys or ("\0",)
    added = {
        k for k in after.ephemeral.keys() - before.ephemeral.keys() if not k.startswith(allowed)
    }
    assert not added, added
    touched = {
        k
        for k, v in before.ephemeral.items()
        if after.ephemeral.get(k) != v and not k.startswith(allowed)
    }
    assert len(touched) <= spent, touched


def _description(response: TestResponse) -> str:
    match = re.search(r'<p id="error-description">(.*?)</p>', response.text, re.S)
    return match.group(1) if match else response.text[:300]


def signed_in_page(response: TestResponse) -> None:
    """Back after a finished sign-in: a page saying so (no error, no second answer)."""
    assert response.status_code == 200, (response.status_code, _description(response))
    assert 'id="signed-in"' in response.text
    assert not any(f'name="{n}"' in response.text for n in ("SAMLResponse", "wresult", "code"))
    assert "Location" not in response.headers
