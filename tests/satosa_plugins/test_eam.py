"""EntraEamFrontend refuses to start without the ``oidc.eam`` section it answers Entra with
(the flows themselves: tests/e2e/satosa/test_eam_frontend.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.errors import ConfigError
from idp.runtime import Runtime
from satosa_plugins.eam import EntraEamFrontend


def test_an_idp_config_without_oidc_eam_stops_satosa_at_start(
    idp_config: Path, runtime: Runtime
) -> None:
    with pytest.raises(ConfigError) as caught:
        EntraEamFrontend(
            None, {"attributes": {}}, {"idp_config": str(idp_config)}, "http://localhost", "Eam"
        )
    assert caught.value.path == "config.idp_config"
    assert "SATOSA plugin 'Eam'" in caught.value.description
    assert "no oidc.eam section" in caught.value.description


def test_unknown_keys_are_refused(idp_config: Path) -> None:
    with pytest.raises(ConfigError, match="issuer"):
        EntraEamFrontend(None, {"attributes": {}}, {"idp_config": str(idp_config), "issuer": "x"},
                         "http://localhost", "Eam")  # fmt: skip
