"""``saml.federation`` in idp.yaml: parsed with path-precise errors, built into the runtime,
shown by ``check-config``, and documented key by key."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_idp.cli import main
from idp.config.loader import load_config
from idp.config.saml import SamlConfig
from idp.errors import ConfigError
from idp.keys import SigningKey
from idp.runtime import build_runtime
from idp.saml import constants as c
from idp.saml.runtime import SamlRuntime
from tests.conftest import KeyMaker
from tests.idp.saml.federation_support import (
    MetadataServer,
    aggregate,
    metadata_server,
    sign,
    sp_entity,
)
from tests.test_docs_cover_config import ROOT, accepted_keys

A = "https://a.example.org/sp"
ENV = {"SALT": "s" * 32}
BASE = """\
base_url: https://idp.example.com
database_url: sqlite:///idp.sqlite3
keys:
  signing: {key: idp.key, cert: idp.crt}
pairwise_salt: {env: SALT}
policies:
  default:
    factors: [passkey]
  research:
    factors: [passkey]
"""


@pytest.fixture
def folder(tmp_path: Path, test_keys: KeyMaker) -> Path:
    idp, fed = test_keys("idp"), test_keys("federation")
    (tmp_path / "idp.key").write_bytes(idp.key_pem)
    (tmp_path / "idp.crt").write_bytes(idp.cert_pem)
    (tmp_path / "federation.crt").write_bytes(fed.cert_pem)
    return tmp_path


@pytest.fixture
def server() -> Iterator[MetadataServer]:
    with metadata_server() as running:
        yield running


def write(folder: Path, federation: str) -> Path:
    path = folder / "idp.yaml"
    body = textwrap.indent(textwrap.dedent(federation), "    ")
    path.write_text(BASE + "saml:\n  federation:\n" + body)
    return path


def saml_config(path: Path) -> SamlConfig:
    config = load_config(path, env=ENV).protocols["saml"]
    assert isinstance(config, SamlConfig)
    return config


def test_every_key_is_parsed_into_the_model(folder: Path) -> None:
    path = write(
        folder,
        """\
        defaults:
          profile: gitlab
          policy: research
          name_id: {format: transient, source: transient}
          sign_response: true
          encrypt_assertions: true
          want_authn_requests_signed: true
          session_lifetime_minutes: 60
        aggregates:
          - name: testfed
            url: https://mds.example.org/md.xml
            signing_certs: [federation.crt]
            refresh_minutes: 30
            timeout_seconds: 10
            max_bytes: 2048
            require_valid_until: false
            filter:
              registration_authorities: [https://federation-a.example.org]
              entity_categories: [http://refeds.org/category/research-and-scholarship]
          - name: local-file
            file: federation.xml
            signing_certs: [federation.crt]
        mdq:
          base_url: https://mdq.example.org
          signing_certs: [federation.crt]
          cache_seconds: 600
          negative_cache_seconds: 30
          max_entries: 100
          filter: {entity_ids: ["https://a.example.org/sp"]}
        """,
    )
    federation = saml_config(path).federation
    assert federation is not None
    defaults = federation.defaults
    assert defaults.profile == "gitlab" and defaults.policy == "research"
    assert defaults.name_id.format == c.NAMEID_TRANSIENT
    assert [a.name for a in defaults.attributes][:1] == ["email"]  # the gitlab preset's list
    assert defaults.encrypt_assertions and defaults.want_authn_requests_signed
    assert defaults.session_lifetime == dt.timedelta(hours=1)
    remote, local = federation.aggregates
    assert remote.url == "https://mds.example.org/md.xml" and remote.path is None
    assert remote.refresh == dt.timedelta(minutes=30) and remote.max_bytes == 2048
    assert not remote.require_valid_until
    assert remote.filter.entity_categories == {
        "http://refeds.org/category/research-and-scholarship"
    }
    assert remote.filter.registration_authorities == {"https://federation-a.example.org"}
    assert local.path == folder / "federation.xml" and local.url is None
    assert local.signing_certs == ((folder / "federation.crt").read_bytes(),)
    assert federation.mdq is not None
    assert federation.mdq.max_cache == dt.timedelta(minutes=10)
    assert federation.mdq.negative_cache == dt.timedelta(seconds=30)
    assert federation.mdq.filter.entity_ids == {A}


@pytest.mark.parametrize(
    ("federation", "key_path", "reason"),
    [
        ("{}\n", "saml.federation", "names no source"),
        ("mdq: {base_url: https://m.example.org}\n", "saml.federation.mdq.signing_certs",
         "is required"),
        ("mdq: {base_url: https://m.example.org, signing_certs: []}\n",
         "saml.federation.mdq.signing_certs", "at least one certificate"),
        ("mdq: {base_url: http://mdq.example.org, signing_certs: [federation.crt]}\n",
         "saml.federation.mdq.base_url", "must be https"),
        ("aggregates: [{name: x, signing_certs: [federation.crt]}]\n",
         "saml.federation.aggregates[0]", "exactly one of `url` (https) or `file`"),
        ("aggregates: [{name: x, url: https://m.example.org, file: f.xml, "
         "signing_certs: [federation.crt]}]\n", "saml.federation.aggregates[0]", "exactly one"),
        ("aggregates: [{name: x, url: https://m.example.org, signing_certs: [missing.crt]}]\n",
         "saml.federation.aggregates[0].signing_certs[0]", "cannot read"),
        ("aggregates: [{name: x, url: https://m.example.org, signing_certs: [idp.key]}]\n",
         "saml.federation.aggregates[0].signing_certs[0]", "not a PEM certificate"),
        ("aggregates: [{name: x, url: https://m.example.org, signing_certs: [federation.crt]},"
         " {name: x, url: https://n.example.org, signing_certs: [federation.crt]}]\n",
         "saml.federation.aggregates[1].name", "used twice"),
        ("aggregates: [{name: x, url: https://m.example.org, signing_certs: [federation.crt], "
         "refresh_minutes: 0}]\n", "saml.federation.aggregates[0].refresh_minutes", "at least 1"),
        ("aggregates: [{name: x, url: https://m.example.org, signing_certs: [federation.crt], "
         "filter: {entity_id: [a]}}]\n", "saml.federation.aggregates[0].filter.entity_id",
         "unknown key"),
        ("mdq: {base_url: https://m.example.org, signing_certs: [federation.crt]}\n"
         "defaults: {policy: nope}\n", "saml.federation.defaults.policy", "no policy named"),
        ("mdq: {base_url: https://m.example.org, signing_certs: [federation.crt]}\n"
         "defaults: {signature_algorithm: sha1}\n",
         "saml.federation.defaults.signature_algorithm", "not one of"),
        ("mdq: {base_url: https://m.example.org, signing_certs: [federation.crt]}\n"
         "defaults: {sign_response: false, sign_assertion: false}\n",
         "saml.federation.defaults.sign_assertion", "must be signed"),
        ("mdq: {base_url: https://m.example.org, signing_certs: [federation.crt]}\n"
         "defaults: {audience: x}\n", "saml.federation.defaults.audience", "unknown key"),
    ],
)  # fmt: skip
def test_bad_federation_config_names_the_key(
    folder: Path, federation: str, key_path: str, reason: str
) -> None:
    path = write(folder, federation)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=ENV)
    message = str(caught.value)
    assert str(path) in message and key_path in message and reason in message


def _served_config(folder: Path, server: MetadataServer, fed_key: SigningKey) -> Path:
    valid = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    server.set("/md.xml", sign(aggregate([sp_entity(A)], valid_until=valid), fed_key))
    return write(
        folder,
        f"""\
        defaults: {{policy: research}}
        aggregates:
          - {{name: testfed, url: "{server.base_url}/md.xml", signing_certs: [federation.crt]}}
        mdq: {{base_url: "{server.base_url}/mdq", signing_certs: [federation.crt]}}
        """,
    )


def test_runtime_serves_federation_sps_and_stops_its_refresher(
    folder: Path, server: MetadataServer, test_keys: KeyMaker
) -> None:
    path = _served_config(folder, server, test_keys("federation"))
    runtime = build_runtime(load_config(path, env=ENV))
    saml = runtime.protocols.saml
    assert isinstance(saml, SamlRuntime)
    try:
        sp = saml.service_providers.get(A)
        assert sp is not None and sp.policy == "research"
        assert saml.refresher is not None and saml.refresher.running
        (line,) = (s for s in saml.federation_status() if "aggregate" in s)
        assert "aggregate testfed" in line and "OK: 1 SPs" in line
    finally:
        saml.stop()
        runtime.db.dispose()
    assert not saml.refresher.running


def test_check_config_shows_each_source_and_a_failing_one_loudly(
    folder: Path,
    server: MetadataServer,
    test_keys: KeyMaker,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SALT", ENV["SALT"])
    path = _served_config(folder, server, test_keys("federation"))
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "aggregate testfed" in out and "OK: 1 SPs" in out and "mdq" in out
    server.set("/md.xml", aggregate([sp_entity(A)], valid_until=None))  # unsigned now
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "FAILING" in out and "not signed" in out


def test_every_federation_key_is_documented() -> None:
    keys = accepted_keys(ROOT / "idp/config/saml_federation.py")
    assert len(keys) > 20
    text = (ROOT / "docs/saml-federation.md").read_text()
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"docs/saml-federation.md does not document: {', '.join(missing)}"
    assert "`saml.federation`" in (ROOT / "docs/configuration.md").read_text()


def test_the_documented_example_parses(folder: Path) -> None:
    doc = (ROOT / "docs/saml-federation.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    (folder / "certs").mkdir()
    (folder / "certs/federation-signer.crt").write_bytes((folder / "federation.crt").read_bytes())
    path = folder / "idp.yaml"
    path.write_text(BASE + example)
    federation = saml_config(path).federation
    assert federation is not None and federation.aggregates[0].name == "research-fed"
    assert federation.mdq is not None


def test_the_commented_example_in_config_parses_when_uncommented(folder: Path) -> None:
    shipped = (ROOT / "config/idp.yaml").read_text()
    block = shipped.split("  # federation:\n", 1)[1]
    lines = ["  federation:"] + [line.replace("  # ", "  ", 1) for line in block.splitlines()]
    (folder / "var/federation").mkdir(parents=True)
    (folder / "var/federation/signer.crt").write_bytes((folder / "federation.crt").read_bytes())
    (folder / "conf").mkdir()
    path = folder / "conf/idp.yaml"
    config_text = BASE.replace("idp.key", "../idp.key").replace("idp.crt", "../idp.crt")
    path.write_text(config_text + "saml:\n" + "\n".join(lines) + "\n")
    federation = saml_config(path).federation
    assert federation is not None and federation.aggregates[0].refresh == dt.timedelta(hours=1)
    assert federation.defaults.name_id.format == c.NAMEID_TRANSIENT
