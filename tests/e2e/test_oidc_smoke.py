from __future__ import annotations

import pytest
import requests

from tests.e2e.entra_sim import oidc_idp


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    with oidc_idp(tmp_path_factory.mktemp("oidc")) as pair:
        yield pair


def test_discovery(idp):
    server, _ = idp
    r = requests.get(server.url("/.well-known/openid-configuration"), timeout=5)
    print(r.status_code, r.text[:500])
    assert r.status_code == 200
