"""A simulated Microsoft Entra ID for the EAM tests, and an IdP started with an ``oidc:`` section.

The simulator has its own RSA key and serves its JWKS on loopback, issues ``id_token_hint``
values shaped like Entra's (already expired, pairwise ``sub``, ``oid``, ``tid``,
``preferred_username``), builds the POSTed EAM request, and checks our answer the way Entra
does: signature against our JWKS found through discovery, issuer, audience, nonce, sub, acr
among the requested values, and exactly one amr.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from idp.keys import generate_self_signed
from tests.e2e.server import RunningServer, run_idp

ENTRA_REDIRECT = "https://login.microsoftonline.com/common/federation/externalauthprovider"
US_REDIRECT = "https://login.microsoftonline.us/common/federation/externalauthprovider"
TENANT = "7d2b1c3a-1111-4222-8333-944455556666"
OTHER_TENANT = "00000000-aaaa-4bbb-8ccc-dddddddddddd"
EAM_CLIENT_ID = "entra-eam-client"
HINT_AUDIENCE = "2f3e4d5c-6b7a-4988-8776-655443322110"
CLIENT_SECRET = "s" * 20 + secrets.token_urlsafe(24)
REQUESTED_AMR = ["face", "fido", "fpt", "hwk", "iris", "otp", "pop", "retina", "sc", "sms",
                 "swk", "tel", "vbm"]  # fmt: skip


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"] or ""] = a.get("value") or ""


def parse_autopost(html: str) -> tuple[str | None, dict[str, str]]:
    form = _Form()
    form.feed(html)
    return form.action, form.fields


class Provider(Protocol):
    """Whoever answers Entra: the Flask IdP or SATOSA (its discovery at ``url(…)``)."""

    def url(self, path: str) -> str: ...


@dataclass
class EntraSim:
    """Entra's side: signing key, JWKS on loopback, hint issuing, answer checking."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = field(default_factory=lambda: secrets.token_hex(8))
    jwks_url: str = ""
    #: JWKS requests answered (counted before any delay or failure)
    served: int = 0
    #: seconds the JWKS endpoint waits before answering (lets requests overlap)
    delay: float = 0.0
    #: when set, the JWKS endpoint answers 503 (Entra unreachable)
    failing: bool = False

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return {"keys": [jwk]}

    def hint(
        self,
        *,
        oid: str,
        tid: str = TENANT,
        age: int = 30,
        key: Any = None,
        kid: str | None = None,
        alg: str = "RS256",
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": f"https://login.microsoftonline.com/{tid}/v2.0",
            "aud": HINT_AUDIENCE,
            "sub": "pairwise-" + oid[:8],
            "oid": oid,
            "tid": tid,
            "preferred_username": "alice@example.com",
            "iat": now - age,
            "nbf": now - age,
            "exp": now - age + 1,  # Entra's hints arrive already expired
        }
        claims.update(overrides)
        return jwt.encode(claims, key if key is not None else self.key, algorithm=alg,
                          headers={"kid": kid or self.kid})  # fmt: skip

    def request(
        self,
        hint: str,
        *,
        nonce: str | None = None,
        state: str = "st-1",
        acr: tuple[str, ...] = ("possessionorinherence",),
    ) -> dict[str, str]:
        claims = {
            "id_token": {
                "acr": {"essential": True, "values": list(acr)},
                "amr": {"essential": True, "values": REQUESTED_AMR},
            }
        }
        body = {
            "scope": "openid", "response_type": "id_token", "response_mode": "form_post",
            "client_id": EAM_CLIENT_ID, "redirect_uri": ENTRA_REDIRECT, "state": state,
            "id_token_hint": hint, "claims": json.dumps(claims),
            "client-request-id": str(uuid.uuid4()),
        }  # fmt: skip
        body["nonce"] = nonce if nonce is not None else secrets.token_urlsafe(16)
        return body

    def check_answer(
        self,
        server: Provider,
        fields: dict[str, str],
        *,
        request: dict[str, str],
        hint_sub: str,
    ) -> dict[str, Any]:
        """Validate our id_token as Entra would; returns its claims."""
        discovery = requests.get(server.url("/.well-known/openid-configuration"), timeout=5).json()
        keys = requests.get(discovery["jwks_uri"], timeout=5).json()
        kid = jwt.get_unverified_header(fields["id_token"])["kid"]
        jwk = next(k for k in keys["keys"] if k["kid"] == kid)
        claims: dict[str, Any] = jwt.decode(
            fields["id_token"], RSAAlgorithm.from_jwk(jwk), algorithms=["RS256"],
            audience=request["client_id"], issuer=discovery["issuer"],
        )  # fmt: skip
        assert claims["nonce"] == request["nonce"]
        assert claims["sub"] == hint_sub
        asked = json.loads(request["claims"])["id_token"]
        assert claims["acr"] in asked["acr"]["values"]
        assert isinstance(claims["amr"], list) and len(claims["amr"]) == 1
        assert claims["amr"][0] in asked["amr"]["values"]
        assert fields["state"] == request["state"]
        return claims


@contextmanager
def serve_jwks(sim: EntraSim) -> Iterator[str]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                sim.served += 1
            if sim.delay:
                time.sleep(sim.delay)
            if sim.failing:
                self.send_error(503)
                return
            body = json.dumps(sim.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        sim.jwks_url = f"http://127.0.0.1:{httpd.server_address[1]}/common/discovery/v2.0/keys"
        yield sim.jwks_url
    finally:
        httpd.shutdown()
        thread.join(timeout=5)


CLIENTS_YAML = """\
clients:
  - client_id: webapp
    name: Web App
    secret: {{file: {secret}}}
    redirect_uris: [http://localhost:9/cb, https://rp.example.com/cb]
    post_logout_redirect_uris: [https://rp.example.com/bye]
    token_endpoint_auth_method: client_secret_basic
  - client_id: postapp
    secret: {{file: {secret}}}
    redirect_uris: [https://rp.example.com/cb]
    token_endpoint_auth_method: client_secret_post
    id_token_signed_response_alg: ES256
  - client_id: spa
    public: true
    redirect_uris: [https://spa.example.com/cb]
  - client_id: consenting
    secret: {{file: {secret}}}
    redirect_uris: [https://rp.example.com/cb]
    require_consent: true
"""


def oidc_section(directory: Path, *, jwks_url: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "client-secret").write_text(CLIENT_SECRET)
    (directory / "clients.yaml").write_text(CLIENTS_YAML.format(secret=directory / "client-secret"))
    generate_self_signed(directory / "es.key", directory / "es.crt", common_name="es", kind="ec")
    # SAML is switched off: these servers test OIDC only (and start faster).
    return f"""
saml:
  enabled: false
oidc:
  clients_file: {directory / "clients.yaml"}
  keys:
    es256: {{key: {directory / "es.key"}, cert: {directory / "es.crt"}}}
  eam:
    client_ids: [{EAM_CLIENT_ID}]
    tenants: [{TENANT}]
    hint_audience: {HINT_AUDIENCE}
    max_hint_age: 300
    jwks_refresh_interval: 0
    clouds:
      - name: global
        issuer_prefix: https://login.microsoftonline.com/
        jwks_url: {jwks_url}
        redirect_uri: {ENTRA_REDIRECT}
      - name: usgov
        issuer_prefix: https://login.microsoftonline.us/
        jwks_url: {jwks_url}
        redirect_uri: {US_REDIRECT}
"""


@contextmanager
def oidc_idp(
    directory: Path, *, storage: str, uv_required: bool = True
) -> Iterator[tuple[RunningServer, EntraSim]]:
    """An IdP on ``storage`` with the ``oidc:`` section (clients above + EAM trusting the
    simulator)."""
    sim = EntraSim()
    with serve_jwks(sim) as jwks_url:
        extra = oidc_section(directory / "oidc", jwks_url=jwks_url)
        with run_idp(
            directory / "idp",
            storage=storage,
            uv_required=uv_required,
            extra_config=extra,
            with_sp=False,
        ) as server:
            yield server, sim
