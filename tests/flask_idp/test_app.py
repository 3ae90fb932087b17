"""The Flask shell: trusted-proxy handling, error responses and cookie attributes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_idp.app import TrustedProxyFix, create_app
from flask_idp.demo import prepare
from idp.config.loader import load_config
from idp.runtime import build_runtime

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
HTTPS = "https://localhost:18443"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The IdP behind TLS (base_url https) with a ``__Host-`` session cookie."""
    config_path = prepare(tmp_path_factory.mktemp("app"), port=18443, sp_port=18444)
    text = config_path.read_text().replace("http://localhost:18443", HTTPS)
    config_path.write_text(text + "session: {cookie_name: __Host-hideez}\n")
    runtime = build_runtime(load_config(config_path))
    yield create_app(runtime)
    runtime.db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _seen_by_app(trusted: list[str], environ: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def inner(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(env)
        return []

    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.url_scheme": "http"}
    TrustedProxyFix(inner, trusted)({**base, **environ}, lambda *a: None)
    return seen


def test_forwarded_headers_from_a_trusted_proxy_on_a_dual_stack_listener() -> None:
    # A listener on "::" reports the IPv4 proxy 10.0.0.5 as ::ffff:10.0.0.5.
    seen = _seen_by_app(
        ["10.0.0.0/8"],
        {
            "REMOTE_ADDR": "::ffff:10.0.0.5",
            "HTTP_X_FORWARDED_FOR": "203.0.113.9",
            "HTTP_X_FORWARDED_PROTO": "https",
        },
    )
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "https"


def test_forwarded_headers_from_anyone_else_are_removed() -> None:
    seen = _seen_by_app(
        ["10.0.0.0/8"],
        {
            "REMOTE_ADDR": "::ffff:192.0.2.7",
            "HTTP_X_FORWARDED_FOR": "203.0.113.9",
            "HTTP_X_FORWARDED_HOST": "evil.example",
        },
    )
    assert seen["REMOTE_ADDR"] == "::ffff:192.0.2.7"
    assert not [k for k in seen if k.startswith("HTTP_X_FORWARDED_")]


def test_method_not_allowed_names_the_allowed_methods(client: FlaskClient) -> None:
    r = client.delete("/logout", base_url=HTTPS, headers={"Accept": "application/json"})
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) >= {"POST"}
    assert r.headers["Content-Type"] == "application/json"
    assert r.get_json()["error"] == "method_not_allowed"
    assert r.headers["Cache-Control"] == "no-store"


def test_signing_out_deletes_the_cookie_with_the_attributes_it_was_set_with(
    client: FlaskClient,
) -> None:
    page = client.get("/login", base_url=HTTPS)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match
    flow = [c for c in page.headers.getlist("Set-Cookie") if c.startswith("hideez_idp_flow=")]
    assert flow and "Secure" in flow[0] and "HttpOnly" in flow[0]
    r = client.post("/logout", data={"csrf": match.group(1)}, base_url=HTTPS)
    assert r.status_code == 200
    deletion = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("__Host-hideez=")]
    assert len(deletion) == 1
    # RFC 6265bis §4.1.3.2: a __Host- cookie is only accepted (even to delete it) with Secure
    # and Path=/ and without Domain.
    attrs = {a.strip().split("=")[0].lower() for a in deletion[0].split(";")[1:]}
    assert {"secure", "path", "max-age", "httponly"} <= attrs
    assert "domain" not in attrs
