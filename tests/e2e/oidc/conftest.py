"""One OP per test module (with a simulated Entra beside it), discovered over HTTP.

Its policy does not require user verification, so the browsers sign in with soft-webauthn.
The few tests of the REFEDS MFA claims use ``mfa_op`` instead: the demo's policy (UV required)
and the crafted key with UV set, as soft-webauthn cannot verify the user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.e2e.entra_sim import EntraSim, oidc_idp
from tests.e2e.helpers import PasskeyClient, signed_in_session
from tests.e2e.server import RunningServer


@pytest.fixture(scope="module")
def idp(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, storage: str
) -> Iterator[tuple[RunningServer, EntraSim]]:
    directory = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with oidc_idp(directory, storage=storage, uv_required=False) as pair:
        yield pair


@pytest.fixture(scope="module")
def server(idp: tuple[RunningServer, EntraSim]) -> RunningServer:
    return idp[0]


@pytest.fixture(scope="module")
def discovery(server: RunningServer) -> dict[str, Any]:
    document: dict[str, Any] = requests.get(
        server.url("/.well-known/openid-configuration"), timeout=5
    ).json()
    return document


@pytest.fixture(scope="module")
def alice(server: RunningServer) -> PasskeyClient:
    return signed_in_session(server, "alice")


@pytest.fixture(autouse=True)
def _insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests-oauthlib refuses http:// otherwise; the OP is on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@dataclass(frozen=True)
class MfaOp:
    server: RunningServer
    discovery: dict[str, Any]
    alice: PasskeyClient


@pytest.fixture(scope="module")
def mfa_op(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, storage: str
) -> Iterator[MfaOp]:
    """An OP on the demo's policy (user verification, REFEDS MFA), alice signed in with UV."""
    directory = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1] + "-mfa")
    with oidc_idp(directory, storage=storage) as (server, _):
        document = requests.get(server.url("/.well-known/openid-configuration"), timeout=5)
        yield MfaOp(server, document.json(), signed_in_session(server, "alice"))
