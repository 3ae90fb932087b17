"""idp.yaml parsing: every error names the file, the key path and the reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from idp.config.loader import load_config
from idp.config.reader import load_yaml
from idp.errors import ConfigError
from idp.factors.kinds import FactorKind

BASE = """\
base_url: https://idp.example.com
database_url: sqlite:///idp.sqlite3
keys:
  signing: {key: k.pem, cert: c.pem}
pairwise_salt: {env: SALT}
policies:
  default:
    factors: [passkey]
"""
ENV = {"SALT": "s" * 32}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "idp.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE), env=ENV)
    assert config.base_url == "https://idp.example.com"
    assert config.ephemeral_url == "memory://"
    assert config.webauthn.rp_id == "idp.example.com"
    assert config.webauthn.origins == ("https://idp.example.com",)
    assert config.signing_key.key == tmp_path / "k.pem"
    assert config.policies.get(None).factors == frozenset({FactorKind.PASSKEY})
    assert config.secure_cookies is True
    assert set(config.protocols) == {"saml"}  # SAML is on unless disabled; the rest opt in
    assert config.protocols["saml"].service_providers == {}
    assert config.session.record_version == 2


def test_sessions_may_keep_the_previous_record_version(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + "session: {record_version: 1}\n"), env=ENV)
    assert config.session.record_version == 1


@pytest.mark.parametrize(
    ("extra", "path", "reason"),
    [
        ("bogus: 1\n", "bogus", "unknown key"),
        ("listen: {port: 70000}\n", "listen.port", "at most 65535"),
        ("listen: {port: '80'}\n", "listen.port", "expected an integer"),
        ("trusted_proxies: [not-an-ip]\n", "trusted_proxies[0]", "does not appear"),
        ("ephemeral_url: mongodb://x\n", "ephemeral_url", "expected memory://, redis(s)://"),
        ("ephemeral_url: redis://:pw@localhost\n", "ephemeral_url", "password"),
        ("ephemeral_url: redis+sentinel://h:26379\n", "ephemeral_url", "/SERVICE[/DB]"),
        ("ephemeral_url: redis+cluster://h/\n", "ephemeral_url", "needs host:port"),
        ("ephemeral_url: 'redis+cluster://h:1/?x=1'\n", "ephemeral_url", "unsupported option"),
        ("ephemeral_url: redis+sentinel://u:pw@h:1/s\n", "ephemeral_url", "password"),
        ("webauthn: {rp_id: other.com}\n", "webauthn.rp_id", "not the host"),
        ("webauthn: {user_verification: maybe}\n", "webauthn.user_verification", "not one of"),
        ("webauthn: {allowed_aaguids: [xyz]}\n", "webauthn.allowed_aaguids[0]", "does not match"),
        (
            "webauthn: {origins: ['https://idp.example.com/?a=1']}\n",
            "webauthn.origins[0]",
            "expected an origin",
        ),
        (
            "webauthn: {origins: ['https://evil.example']}\n",
            "webauthn.origins[0]",
            "is not on the RP ID",
        ),
        ("session: {cookie_name: hideez_idp_flow}\n", "session.cookie_name", "flow cookie"),
        (
            "session: {idle_timeout: 9000, absolute_lifetime: 600}\n",
            "session.idle_timeout",
            "must not exceed",
        ),
        ("session: {record_version: 3}\n", "session.record_version", "expected 1 or 2"),
        ("session: {record_version: '2'}\n", "session.record_version", "expected an integer"),
        ("session: {record_version: true}\n", "session.record_version", "expected an integer"),
    ],
)
def test_bad_values_name_the_key_path(tmp_path: Path, extra: str, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, BASE + extra), env=ENV)
    assert err.value.source == str(tmp_path / "idp.yaml")
    assert err.value.path == path
    assert reason in err.value.reason


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        (
            BASE.replace("https://idp.example.com", "http://idp.example.com"),
            "base_url",
            "plain http",
        ),
        (BASE.replace("https://idp.example.com", "idp.example.com"), "base_url", "absolute"),
        (
            BASE.replace("https://idp.example.com", "https://example.com/idp"),
            "base_url",
            "must not have a path",
        ),
        (BASE.replace("[passkey]", "[sms]"), "policies.default.factors[0]", "not one of"),
        (BASE.replace("[passkey]", "[]"), "policies.default.factors", "at least one"),
        (BASE.replace("default:", "strict:"), "policies", "named 'default'"),
        (
            BASE.replace("sqlite:///idp.sqlite3", "postgresql://u:secret@db/idp"),
            "database_url",
            "password",
        ),
        (
            BASE.replace("{env: SALT}", "literal-secret-in-yaml"),
            "pairwise_salt",
            "must not be written in YAML",
        ),
        (BASE.replace("{env: SALT}", "{env: MISSING}"), "pairwise_salt.env", "is not set"),
        (BASE.replace("  signing: {key: k.pem, cert: c.pem}\n", ""), "keys", "is required"),
        (
            BASE.replace("{key: k.pem, cert: c.pem}", "{key: k.pem}"),
            "keys.signing.cert",
            "is required",
        ),
    ],
)
def test_bad_files_name_the_key_path(tmp_path: Path, text: str, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env=ENV)
    assert err.value.path == path, err.value
    assert reason in err.value.reason


def test_short_salt_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        load_config(write(tmp_path, BASE), env={"SALT": "short"})


def test_salt_from_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "salt").write_text("f" * 40 + "\n")
    config = load_config(write(tmp_path, BASE.replace("{env: SALT}", "{file: salt}")), env={})
    assert config.pairwise_salt == "f" * 40


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("a: [1, 2\n", "invalid YAML at line"),
        ("a: 1\na: 2\n", "duplicate key"),
        ("!!python/object:os.system {}\n", "invalid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("? [a, b]\n: 1\n", "keys must be plain values"),
        ("a: {? {x: 1} : 2}\n", "keys must be plain values"),
    ],
)
def test_broken_yaml_is_refused_with_the_file_name(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "idp.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_config(path, env=ENV)
    assert str(path) in str(err.value)
    assert reason in str(err.value)


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_yaml(tmp_path / "nope.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("a: '" + "x" * 2_100_000 + "'\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_yaml(big)


def test_billion_laughs_aliases_do_not_expand_into_memory(tmp_path: Path) -> None:
    # PyYAML shares alias nodes instead of copying them, so this stays small; the loader must
    # still parse it without hanging and refuse it as config (unknown key).
    lol = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(write(tmp_path, BASE + lol), env=ENV)


def test_master_key_must_be_base64_of_32_bytes(tmp_path: Path) -> None:
    import base64

    path = write(tmp_path, BASE + "master_key: {env: MK}\n")
    good = base64.b64encode(bytes(range(32))).decode()
    assert load_config(path, env={**ENV, "MK": good}).master_key == good
    for bad, reason in (
        ("correct horse battery staple", "not base64"),
        ("clé-secrète", "not base64"),
        (base64.b64encode(b"sixteen byte key").decode(), "got 16 bytes"),
    ):
        with pytest.raises(ConfigError) as err:
            load_config(path, env={**ENV, "MK": bad})
        assert err.value.path == "master_key"
        assert reason in err.value.reason
        assert bad not in str(err.value)  # the secret itself is never echoed


def test_a_binary_secret_file_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "salt.bin").write_bytes(b"\xff\xfe" + bytes(range(30)))
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, BASE.replace("{env: SALT}", "{file: salt.bin}")), env={})
    assert err.value.path == "pairwise_salt.file"
    assert "not UTF-8" in err.value.reason


def test_relative_sqlite_path_is_taken_from_the_config_file(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, BASE.replace("sqlite:///idp.sqlite3", "sqlite:///../var/idp.sqlite3")),
        env=ENV,
    )
    assert config.database_url == f"sqlite:///{tmp_path.parent.resolve()}/var/idp.sqlite3"
    absolute = load_config(
        write(tmp_path, BASE.replace("sqlite:///idp.sqlite3", "sqlite:////srv/idp.db")), env=ENV
    )
    assert absolute.database_url == "sqlite:////srv/idp.db"


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h1:26379,h2:26379/hideez/2",
        "rediss+cluster://h1:7000,h2:7001/",
        "unix:///run/redis.sock?db=1",
    ],
)
def test_every_redis_deployment_url_is_accepted(tmp_path: Path, url: str) -> None:
    config = load_config(write(tmp_path, BASE + f"ephemeral_url: '{url}'\n"), env=ENV)
    assert config.ephemeral_url == url
