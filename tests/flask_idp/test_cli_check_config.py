"""``hideez-idp check-config``: every error at once, what it loaded, no file ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare

SP = """protocol: saml
name: {name}
entity_id: https://{name}.example.com
acs: [{{url: "{acs}"}}]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return prepare(tmp_path / "demo", port=18080, sp_port=18081)


def _check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check-config", "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_error_is_reported_not_only_the_first(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rps = config.parent / "relying_parties"
    (rps / "one.yaml").write_text("protocol: saml\nname: one\nentity_id: https://one\nacs: x\n")
    (rps / "two.yaml").write_text(SP.format(name="two", acs="https://two/acs") + "colour: red\n")
    text = config.read_text().replace("webauthn:\n", "webauthn:\n  rp_nmae: typo\n")
    config.write_text(text + "limits: {max_request_bytes: 1}\n")
    code, out, err = _check(config, capsys)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[-1] == "4 configuration errors"
    assert any("webauthn.rp_nmae: unknown key" in line for line in lines)
    assert any("limits.max_request_bytes: must be at least 4096" in line for line in lines)
    assert any("one.yaml: acs: expected a list" in line for line in lines)
    assert any("two.yaml: colour: unknown key" in line for line in lines)


def test_lists_each_sp_client_realm_and_tenant(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config.parent / "relying_parties/wiki.yml").write_text(
        SP.format(name="wiki", acs="https://wiki.example.com/saml/acs")
    )
    secret = config.parent / "secrets/oidc-gitlab"
    secret.write_text("s" * 40)
    (config.parent / "clients.yaml").write_text(
        "clients:\n  - client_id: gitlab\n    secret: {file: secrets/oidc-gitlab}\n"
        "    redirect_uris: [https://gitlab.example.com/cb]\n"
    )
    config.write_text(
        config.read_text()
        + "oidc:\n  clients_file: clients.yaml\n  eam:\n    client_ids: [entra-eam]\n"
        "    tenants: [0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d]\n    hint_audience: entra-eam\n"
        "wsfed:\n  relying_parties:\n    - name: owa\n      profile: exchange\n"
        "      realm: https://mail.example.com/owa/\n"
        "      reply_urls: [https://mail.example.com/owa/]\n"
    )
    code, out, _ = _check(config, capsys)
    assert code == 0
    assert (
        "  SP wiki: entity id https://wiki.example.com, ACS https://wiki.example.com/saml/acs"
        in out
    )
    assert (
        "  client gitlab (client_secret_basic): redirect URIs https://gitlab.example.com/cb" in out
    )
    assert "  EAM tenant 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" in out
    assert (
        "  realm https://mail.example.com/owa/ (owa): reply URLs https://mail.example.com/owa/"
        in out
    )


def test_a_named_relying_parties_dir_that_does_not_exist_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = config.read_text()
    config.write_text(
        text.replace("relying_parties_dir: relying_parties", "relying_parties_dir: x")
    )
    code, _, err = _check(config, capsys)
    assert code == 2
    assert f"relying_parties_dir: directory {config.parent / 'x'} does not" in err


def test_a_relying_party_file_of_another_protocol_is_refused_by_name(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config.parent / "relying_parties/gitlab.yaml").write_text("protocol: oidc\nname: gitlab\n")
    code, _, err = _check(config, capsys)
    assert code == 2
    assert "gitlab.yaml: protocol: 'oidc': only SAML service providers live in" in err


@pytest.mark.parametrize("acs", ["http://sp.example.com/acs", "http://10.0.0.7/acs"])
def test_plain_http_acs_off_localhost_needs_allow_http(
    config: Path, capsys: pytest.CaptureFixture[str], acs: str
) -> None:
    path = config.parent / "relying_parties/lab.yaml"
    path.write_text(SP.format(name="lab", acs=acs))
    code, _, err = _check(config, capsys)
    assert code == 2
    assert f"lab.yaml: (top level): endpoint {acs} is plain http on a host" in err
    path.write_text(SP.format(name="lab", acs=acs) + "allow_http: true\n")
    code, out, _ = _check(config, capsys)
    assert code == 0 and f"ACS {acs}" in out


def test_the_shipped_example_config_switches_on_no_idp_initiated_placeholder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config"
    from idp.config.reader import load_yaml

    root = load_yaml(shipped / "idp.yaml")
    rp_dir = root.child("relying_parties_dir").as_path(shipped)
    for path in [*rp_dir.glob("*.yaml"), *rp_dir.glob("*.yml")]:
        assert "allow_idp_initiated: true" not in path.read_text(), path
