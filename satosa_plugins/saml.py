"""SATOSA's own SAML frontend and backend, signing and verifying in process.

pysaml2, and so SATOSA, signs every response by writing temporary files and running the
``xmlsec1`` program. These subclasses change only that: after SATOSA builds its pysaml2
``Server`` / ``Saml2Client``, the entity's crypto backend becomes
:class:`idp.saml.pysaml2_backend.InProcessCryptoBackend` with the configured key loaded once.
Everything else — configuration, endpoints, metadata — is SATOSA's, unchanged; use them as
``module: satosa_plugins.saml.SAMLFrontend`` / ``satosa_plugins.saml.SAMLBackend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from satosa.backends import saml2 as saml2_backend
from satosa.frontends import saml2 as saml2_frontend

from idp.errors import ConfigError
from idp.keys import SigningKey, load_signing_key
from idp.saml.pysaml2_backend import install


def _key(config: Any, section: str, *, plugin: str) -> SigningKey:
    key_file, cert_file = config.get("key_file"), config.get("cert_file")
    if not key_file or not cert_file:
        raise ConfigError(
            f"SATOSA plugin {plugin!r}",
            f"config.{section}",
            "key_file and cert_file are required to sign in process",
        )
    return load_signing_key(Path(key_file), Path(cert_file))


class SAMLFrontend(saml2_frontend.SAMLFrontend):  # type: ignore[misc]
    def register_endpoints(self, backend_names: Any) -> Any:
        endpoints = super().register_endpoints(backend_names)
        # SATOSA builds its pysaml2 Server here; its crypto backend is replaced once.
        install(self.idp, _key(self.idp_config, "idp_config", plugin=self.name))
        return endpoints


class SAMLBackend(saml2_backend.SAMLBackend):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        install(self.sp, _key(self.config["sp_config"], "sp_config", plugin=self.name))
