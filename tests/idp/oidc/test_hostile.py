"""Hostile input to the sans-IO OIDC core: each is a typed 4xx error, never a crash (500).

Found in review: JSON nested deeper than the interpreter's recursion limit, ``claims`` entries
whose ``values`` is not an array, non-ASCII digits in ``max_age``, and a malformed JWKS document
from Entra's key endpoint each escaped as an untyped exception.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import threading

import pytest

from idp.oidc import errors as e
from idp.oidc.authorize import ErrorTarget, parse_authorization_request
from idp.oidc.claims import parse_claims_parameter
from idp.oidc.clients import (
    CLIENT_ASSERTION_TYPE,
    Client,
    ClientCredentials,
    ClientRegistry,
    authenticate_client,
)
from idp.oidc.eam import ENTRA_CLOUDS, EamSettings, validate_hint
from idp.oidc.entra_jwks import EntraJwks
from idp.oidc.keys import verify_jwt
from idp.oidc.runtime import fetch_url

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
#: deeper than CPython's default recursion limit (1000), yet inside every size bound here
DEEP = "[" * 3000


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "values",
    ["5", "true", '"possessionorinherence"', '{"a": 1}', "[1]"],
)
def test_claims_values_must_be_an_array_of_strings(values: str) -> None:
    # OIDC Core §5.5.1: "values" is a JSON array of strings; a bare string is not split.
    raw = '{"id_token": {"acr": {"essential": true, "values": ' + values + "}}}"
    with pytest.raises(e.InvalidRequestError, match="values"):
        parse_claims_parameter(raw)


def test_claims_parameter_nested_too_deep_is_invalid_request() -> None:
    with pytest.raises(e.InvalidRequestError, match="claims"):
        parse_claims_parameter(DEEP)
    with pytest.raises(e.InvalidRequestError, match="claims"):
        parse_claims_parameter('{"id_token": {"acr": {"value": ' + DEEP + "}}}")


def test_jwt_header_nested_too_deep_is_malformed() -> None:
    with pytest.raises(e.JwtMalformedError):
        verify_jwt(f"{_b64(DEEP)}.e30.c2ln", lookup=lambda kid: None, algorithms=("RS256",))


def test_client_assertion_payload_nested_too_deep_is_invalid_client() -> None:
    credentials = ClientCredentials(
        client_assertion_type=CLIENT_ASSERTION_TYPE,
        client_assertion=f"{_b64('{}')}.{_b64(DEEP)}.c2ln",
    )
    with pytest.raises(e.InvalidClientError):
        authenticate_client(credentials=credentials, registry=ClientRegistry({}),
                            expected_audiences=(), now=NOW,
                            remember_jti=lambda key, ttl: True)  # fmt: skip


def test_eam_hint_payload_nested_too_deep_is_invalid_request() -> None:
    settings = EamSettings(client_ids=("c",), tenants=frozenset({"t"}), hint_audience="a")
    jwks = EntraJwks(fetch=lambda url: b'{"keys": []}')
    hint = f"{_b64(json.dumps({'alg': 'RS256', 'kid': 'k'}))}.{_b64(DEEP)}.c2ln"
    with pytest.raises(e.InvalidRequestError):
        validate_hint(hint, settings=settings, cloud=ENTRA_CLOUDS[0], jwks=jwks, now=NOW)


@pytest.mark.parametrize("value", ["²", "١", "１０"])
def test_max_age_must_be_ascii_digits(value: str) -> None:
    # "²".isdigit() is True but int("²") raises; "١" (Arabic-Indic one) would become 1.
    client = Client(client_id="c", name="c", redirect_uris=("https://rp/cb",), secret="s" * 32)
    params = {"client_id": ["c"], "redirect_uri": ["https://rp/cb"], "response_type": ["code"],
              "scope": ["openid"], "max_age": [value]}  # fmt: skip
    with pytest.raises(e.InvalidRequestError, match="max_age"):
        parse_authorization_request(params, client=client,
                                    target=ErrorTarget("https://rp/cb", "query", None),
                                    issuer="https://op", own_keys=lambda kid: None,
                                    now=NOW)  # fmt: skip


@pytest.mark.parametrize(
    "document",
    [b"[]", b"{}", b'{"keys": 5}', b'{"keys": [5]}', b"not json", DEEP.encode(), b"\xff\xfe"],
)
def test_malformed_entra_jwks_is_temporarily_unavailable(document: bytes) -> None:
    cache = EntraJwks(fetch=lambda url: document)
    with pytest.raises(e.TemporarilyUnavailableError, match="Entra's signing keys"):
        cache.key(url="https://login.example/keys", kid="k", now=NOW)


def _one_shot_server(answer: bytes) -> int:
    """A loopback socket that answers one request with ``answer`` (not valid HTTP)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        with listener:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(answer)

    threading.Thread(target=run, daemon=True).start()
    port: int = listener.getsockname()[1]
    return port


def test_garbled_http_from_the_jwks_endpoint_is_temporarily_unavailable() -> None:
    # http.client.BadStatusLine is no OSError: it escaped as a 500 before.
    port = _one_shot_server(b"HELLO WORLD\r\n\r\n")
    cache = EntraJwks(fetch=fetch_url)
    with pytest.raises(e.TemporarilyUnavailableError, match="Entra's signing keys"):
        cache.key(url=f"http://127.0.0.1:{port}/common/discovery/v2.0/keys", kid="k", now=NOW)
