"""The ``oidc.eam:`` keys this branch added or tightened: ``jwks_max_age``, ``jwks_url`` over
plain http only on loopback, ``clouds`` replacing the default list, and the amr values the
EAM policy's factors can give."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from idp.config.loader import load_config
from idp.config.oidc import OidcSettings
from idp.errors import ConfigError
from tests.idp.config.test_loader import BASE, ENV

TENANT = "7d2b1c3a-1111-4222-8333-944455556666"


def load_eam(tmp_path: Path, eam: str, *, policies: str = "") -> OidcSettings:
    (tmp_path / "clients.yaml").write_text("clients: []\n")
    text = BASE + policies + textwrap.dedent(f"""\
        oidc:
          clients_file: clients.yaml
          eam:
            client_ids: [entra]
            tenants: [{TENANT}]
            hint_audience: app-id
        """) + textwrap.indent(textwrap.dedent(eam), "    ")  # fmt: skip
    (tmp_path / "idp.yaml").write_text(text)
    settings = load_config(tmp_path / "idp.yaml", env=ENV).protocols["oidc"]
    assert isinstance(settings, OidcSettings)
    return settings


def test_defaults(tmp_path: Path) -> None:
    eam = load_eam(tmp_path, "").eam
    assert eam is not None
    assert (eam.jwks_max_age, eam.jwks_refresh_interval) == (86400, 300)
    assert [c.name for c in eam.clouds] == ["global", "usgov", "china"]
    assert eam.amr_values == ("fido", "hwk", "swk")


def test_jwks_max_age_and_clouds_replace_the_defaults(tmp_path: Path) -> None:
    eam = load_eam(tmp_path, """\
        jwks_max_age: 7200
        clouds:
          - name: sim
            issuer_prefix: https://login.microsoftonline.com/
            jwks_url: http://127.0.0.1:8081/keys
            redirect_uri: https://login.microsoftonline.com/common/federation/externalauthprovider
        """).eam  # fmt: skip
    assert eam is not None and eam.jwks_max_age == 7200
    assert [c.name for c in eam.clouds] == ["sim"], "clouds replaces the default list"


@pytest.mark.parametrize(
    ("eam", "path", "reason"),
    [
        ("jwks_max_age: 10\n", "jwks_max_age", "at least 300"),
        ("jwks_max_age: 9999999\n", "jwks_max_age", "at most"),
        ("clouds:\n  - {name: x, issuer_prefix: 'https://a/', jwks_url: 'http://keys.example.com/k',"
         " redirect_uri: 'https://a/cb'}\n", "clouds[0].jwks_url", "http only on loopback"),
    ],
)  # fmt: skip
def test_refusals_name_the_key(tmp_path: Path, eam: str, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_eam(tmp_path, eam)
    assert path in caught.value.path and reason in caught.value.reason, caught.value


def test_amr_values_follow_the_eam_policy(tmp_path: Path) -> None:
    policies = "  strong:\n    factors: [passkey, totp]\n"
    eam = load_eam(tmp_path, "policy: strong\n", policies=policies).eam
    assert eam is not None and eam.amr_values == ("fido", "hwk", "swk", "otp")
