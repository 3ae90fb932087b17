"""``python -m satosa_plugins.check``: the shipped config/satosa files, and mistakes named by
file and key path before SATOSA is restarted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from satosa.satosa_config import SATOSAConfig

from satosa_plugins.check import check, main

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_configuration_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    lines = check(Path("config/satosa/proxy_conf.yaml"), load_idp=False)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "WsFed (satosa_plugins.wsfed.WsFedFrontend) ok",
        "HideezDirectory (satosa_plugins.attributes.DirectoryAttributes) ok",
        "HideezMfa (satosa_plugins.mfa.MfaMicroService) ok",
    ]
    # SATOSA itself accepts the proxy configuration and loads every plugin file it names.
    config = SATOSAConfig("config/satosa/proxy_conf.yaml")
    assert [m["module"] for m in config["MICRO_SERVICES"]] == [
        "satosa_plugins.attributes.DirectoryAttributes",
        "satosa_plugins.mfa.MfaMicroService",
    ]


@pytest.fixture
def copy(tmp_path: Path, idp_config: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "config/satosa", tmp_path / "config/satosa")
    for plugin in (tmp_path / "config/satosa/plugins").rglob("*.yaml"):
        plugin.write_text(
            plugin.read_text().replace("var/satosa-demo/idp/idp.yaml", str(idp_config))
        )
    monkeypatch.chdir(tmp_path)
    return tmp_path / "config/satosa"


def test_a_copy_naming_a_real_idp_config_passes(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config/satosa/proxy_conf.yaml"]) == 0
    assert "3 plugin(s) of hideez-idp checked" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            "    by: email ",
            "    by: phone ",
            "plugins/microservices/hideez_mfa.yaml: config.match.by",
        ),
        (
            "  without_factor: deny",
            "  without_factr: deny",
            "hideez_mfa.yaml: config.without_factr",
        ),
        (
            "default: {policy: default}",
            "default: {policy: nope}",
            "config.requesters['default'].policy",
        ),
    ],
)
def test_mistakes_name_the_file_and_the_key(
    copy: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, where: str
) -> None:
    mfa = copy / "plugins/microservices/hideez_mfa.yaml"
    assert old in mfa.read_text()
    mfa.write_text(mfa.read_text().replace(old, new))
    assert main(["config/satosa/proxy_conf.yaml"]) == 1
    assert where in capsys.readouterr().err


def test_a_missing_plugin_file_and_bad_usage(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy / "plugins/microservices/hideez_directory.yaml").unlink()
    assert main(["config/satosa/proxy_conf.yaml"]) == 1
    assert "hideez_directory.yaml: cannot read file" in capsys.readouterr().err
    assert main([]) == 2


def test_the_shipped_plugins_outside_the_demo_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The passwordless set-up's files, checked as a proxy_conf listing them would be."""
    monkeypatch.chdir(ROOT)
    conf = tmp_path / "proxy_conf.yaml"
    conf.write_text(
        "BACKEND_MODULES: [config/satosa/plugins/backends/passwordless_backend.yaml]\n"
        "MICRO_SERVICES: [config/satosa/plugins/microservices/hideez_pages.yaml]\n"
    )
    lines = check(conf, load_idp=False)
    assert [line.rsplit(" (", 1)[0].split(": ")[-1] for line in lines] == ["Hideez", "HideezPages"]


def test_the_eam_frontend_file_parses_and_needs_an_eam_section(
    copy: Path, idp_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = copy / "proxy_conf.yaml"
    listed = "  - config/satosa/plugins/frontends/wsfed_frontend.yaml\n"
    eam = "  - config/satosa/plugins/frontends/entra_eam_frontend.yaml\n"
    conf.write_text(conf.read_text().replace(listed, listed + eam, 1))
    lines = check(conf, load_idp=False)
    assert "EntraEam (satosa_plugins.eam.EntraEamFrontend) ok" in lines[1]
    # The demo IdP config has no oidc.eam section: named before SATOSA is restarted.
    assert main(["config/satosa/proxy_conf.yaml"]) == 1
    err = capsys.readouterr().err
    assert "entra_eam_frontend.yaml: config.idp_config" in err and "no oidc.eam section" in err
