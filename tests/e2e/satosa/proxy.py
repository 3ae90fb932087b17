"""SATOSA on loopback with real peers: a pysaml2 upstream IdP, SATOSA's own WSGI app (its
SAML frontend and backend, our plugins) and the python3-saml demo SP, plus the Flask IdP
beside them (where employees enrol their passkeys, as ``make run-satosa`` runs them).

Nothing here is a mock: the upstream IdP is pysaml2's ``Server`` answering AuthnRequests for
whichever user a test names (the user "types their password" by the test setting
``upstream.user``); SATOSA is ``satosa.proxy_server.make_app`` on its configuration dict.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from werkzeug.serving import make_server

from demo_satosa.peers import BACKEND as BACKEND  # re-exported for the tests
from demo_satosa.peers import FRONTEND, REFEDS_MFA, Upstream, sp_metadata, sp_settings
from demo_satosa.peers import PPT as PPT
from demo_satosa.peers import keys as _keys
from idp.runtime import Runtime
from tests.e2e.server import RunningServer, _Thread, free_port, run_idp

STATE_COOKIE = "SATOSA_STATE"


# -- SATOSA ---------------------------------------------------------------------------------


def mfa_plugin(idp_config: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "idp_config": str(idp_config),
        "match": {"attribute": "mail", "by": "email"},
        "skip_when_upstream_asserted": [REFEDS_MFA],
        "without_factor": "deny",
        "requesters": {"default": {"policy": "default"}},
    }
    config.update(overrides)
    return {"module": "satosa_plugins.mfa.MfaMicroService", "name": "HideezMfa", "config": config}


def attributes_plugin(idp_config: Path) -> dict[str, Any]:
    return {
        "module": "satosa_plugins.attributes.DirectoryAttributes",
        "name": "HideezDirectory",
        "config": {
            "idp_config": str(idp_config),
            "match": {"attribute": "mail", "by": "email"},
            "attributes": {
                "employeenumber": "employee_id",
                "upn": "upn",
                "objectsid": "ad_object_sid",
            },
            # unknown subjects go on to the MFA step, which refuses them with its own reason
            "pass_unknown": True,
        },
    }


PASSWORDLESS = "Hideez"


def passwordless_plugin(idp_config: Path) -> dict[str, Any]:
    return {
        "module": "satosa_plugins.passwordless.PasswordlessBackend",
        "name": PASSWORDLESS,
        "config": {
            "idp_config": str(idp_config),
            "subject_id": "employee_id",
            "attributes": {"mail": "email", "displayname": "full_name", "upn": "upn"},
        },
    }


def pages_plugin(idp_config: Path) -> dict[str, Any]:
    return {
        "module": "satosa_plugins.passwordless.HideezPages",
        "name": "HideezPages",
        "config": {"idp_config": str(idp_config)},
    }


def wsfed_plugin(idp_config: Path) -> dict[str, Any]:
    return {
        "module": "satosa_plugins.wsfed.WsFedFrontend",
        "name": "WsFed",
        "config": {
            "idp_config": str(idp_config),
            "subject": {
                "username": "mail",
                "email": "mail",
                "external_id:upn": "upn",
                "external_id:ad_object_sid": "objectsid",
            },
        },
    }


EAM = "EntraEam"


def eam_plugin(idp_config: Path) -> dict[str, Any]:
    return {
        "module": "satosa_plugins.eam.EntraEamFrontend",
        "name": EAM,
        "config": {"idp_config": str(idp_config)},
    }


OWA = "https://mail.example.com/owa/"
WSFED_YAML = f"""
wsfed:
  relying_parties:
    - name: owa
      display_name: Outlook on the web
      profile: exchange
      realm: {OWA}
      reply_urls: [{OWA}]
"""


def satosa_config(
    *,
    idp_config: Path,
    base: str,
    directory: Path,
    upstream_metadata: str,
    sp_metadata: str,
    micro_services: list[dict[str, Any]],
    in_process: bool = True,
) -> dict[str, Any]:
    front_key, back_key = _keys(directory, "frontend"), _keys(directory, "backend")
    (directory / "upstream.xml").write_text(upstream_metadata)
    (directory / "sp.xml").write_text(sp_metadata)
    frontend = {
        "module": "satosa_plugins.saml.SAMLFrontend",
        "name": FRONTEND,
        "config": {
            "endpoints": {
                "single_sign_on_service": {
                    BINDING_HTTP_REDIRECT: "sso/redirect",
                    BINDING_HTTP_POST: "sso/post",
                }
            },
            "idp_config": {
                "entityid": f"{base}/{FRONTEND}/proxy.xml",
                "key_file": front_key[0],
                "cert_file": front_key[1],
                "metadata": {"local": [str(directory / "sp.xml")]},
                "accepted_time_diff": 60,
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": []},
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "signing_algorithm": SIG_RSA_SHA256,
                        "digest_algorithm": DIGEST_SHA256,
                        "policy": {
                            "default": {
                                "sign_response": True,
                                # None: no deprecation warning per response (the
                                # signing_algorithm above is what counts)
                                "sign_alg": None,
                                "digest_alg": None,
                                "sign_assertion": True,
                                "lifetime": {"minutes": 5},
                                "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
                            }
                        },
                    }
                },
            },
        },
    }
    backend = {
        "module": "satosa_plugins.saml.SAMLBackend",
        "name": BACKEND,
        "config": {
            "sp_config": {
                "entityid": f"{base}/{BACKEND}/proxy_saml2_backend.xml",
                "key_file": back_key[0],
                "cert_file": back_key[1],
                "metadata": {"local": [str(directory / "upstream.xml")]},
                "accepted_time_diff": 60,
                "service": {
                    "sp": {
                        "authn_requests_signed": False,
                        "allow_unsolicited": False,
                        "want_response_signed": True,
                        "signing_algorithm": SIG_RSA_SHA256,
                        "digest_algorithm": DIGEST_SHA256,
                        "endpoints": {
                            "assertion_consumer_service": [
                                (f"{base}/{BACKEND}/acs/post", BINDING_HTTP_POST)
                            ]
                        },
                    }
                },
            }
        },
    }
    if not in_process:
        frontend["module"] = "satosa.frontends.saml2.SAMLFrontend"
        backend["module"] = "satosa.backends.saml2.SAMLBackend"
    return {
        "BASE": base,
        "COOKIE_STATE_NAME": STATE_COOKIE,
        "STATE_ENCRYPTION_KEY": "state-encryption-key-for-the-tests-only",
        "COOKIE_SECURE": False,
        "COOKIE_SAMESITE": "Lax",
        "INTERNAL_ATTRIBUTES": {
            "attributes": {
                "mail": {"saml": ["mail"]},
                "displayname": {"saml": ["displayName"]},
                "employeenumber": {"saml": ["employeeNumber"]},
                "upn": {"saml": ["upn"]},
                "objectsid": {"saml": ["objectSid"]},
            }
        },
        "FRONTEND_MODULES": [frontend, wsfed_plugin(idp_config)],
        "BACKEND_MODULES": [backend],
        "MICRO_SERVICES": micro_services,
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {"satosa": {"level": "WARNING"}, "saml2": {"level": "WARNING"}},
        },
    }


def backend_metadata(config: dict[str, Any]) -> str:
    """The SATOSA SAML backend's SP metadata (what the upstream IdP registers)."""
    from saml2.config import SPConfig

    sp = SPConfig().load(copy.deepcopy(config["BACKEND_MODULES"][0]["config"]["sp_config"]))
    text = create_metadata_string(None, config=sp)
    return text.decode() if isinstance(text, bytes) else text


def make_satosa(config: dict[str, Any], *, stock: bool = False) -> Any:
    """SATOSA's app: the pack's entry point (``satosa_plugins.wsgi``, a cheaper state cookie)
    or, ``stock``, ``satosa.proxy_server.make_app`` itself."""
    from satosa.satosa_config import SATOSAConfig

    if stock:
        from satosa.proxy_server import make_app
    else:
        from satosa_plugins.wsgi import make_app
    return make_app(SATOSAConfig(copy.deepcopy(config)))


# -- everything together --------------------------------------------------------------------


@dataclass
class Proxy:
    idp: RunningServer
    upstream: Upstream
    base: str
    port: int
    sp_url: str
    sp: dict[str, Any]
    directory: Path
    config: dict[str, Any]
    runtime: Runtime
    _servers: list[Any] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


WEB_ORIGINS = "webauthn:\n  origins: [{idp}, {satosa}]\n"


@contextmanager
def run_proxy(
    directory: Path,
    *,
    storage: str,
    mfa: dict[str, Any] | None = None,
    extra_micro_services: tuple[dict[str, Any], ...] = (),
    uv_required: bool = True,
    passwordless: bool = False,
    extra_config: str = "",
    replace: dict[str, str] | None = None,
    eam: bool = False,
) -> Iterator[Proxy]:
    """The Flask IdP, the upstream IdP, SATOSA (our MFA plugin) and the demo SP, on loopback.

    ``passwordless``: no upstream; SATOSA's backend is our PasswordlessBackend (named
    ``Hideez``) with the HideezPages micro-service. ``extra_config`` and ``replace`` change
    the IdP configuration (as for ``run_idp``); ``eam`` adds the EntraEamFrontend (named
    ``EntraEam``; ``extra_config`` then needs an ``oidc.eam`` section)."""
    from demo_sp.app import create_app as create_sp
    from idp.runtime import _SHARED

    port, up_port, sp_port = free_port(), free_port(), free_port()
    base, sp_url = f"http://localhost:{port}", f"http://localhost:{sp_port}"
    with run_idp(
        directory / "idp",
        storage=storage,
        with_sp=False,
        uv_required=uv_required,
        extra_config=WSFED_YAML + extra_config,
        replace=replace,
    ) as idp:
        # The passkeys enrolled at the Flask IdP sign in on SATOSA's pages too (one RP ID).
        text = idp.config_path.read_text()
        origins = WEB_ORIGINS.format(idp=idp.base_url, satosa=base)
        idp.config_path.write_text(text.replace("webauthn:\n", origins, 1))
        satosa_dir = directory / "satosa"
        satosa_dir.mkdir(parents=True, exist_ok=True)
        upstream = Upstream(url=f"http://localhost:{up_port}", key=_keys(satosa_dir, "upstream"))
        backend = PASSWORDLESS if passwordless else BACKEND
        sp = sp_settings(sp_url=sp_url, base=base, directory=satosa_dir, backend=backend)
        (satosa_dir / "sp").mkdir(exist_ok=True)
        (satosa_dir / "sp/settings.json").write_text(json.dumps(sp))
        config = satosa_config(
            idp_config=idp.config_path,
            base=base,
            directory=satosa_dir,
            upstream_metadata=upstream.metadata(),
            sp_metadata=sp_metadata(sp),
            micro_services=[
                attributes_plugin(idp.config_path),
                *extra_micro_services,
                {**mfa_plugin(idp.config_path), **(mfa or {})},
            ],
        )
        if eam:
            config["FRONTEND_MODULES"].append(eam_plugin(idp.config_path))
        if passwordless:
            config["BACKEND_MODULES"] = [passwordless_plugin(idp.config_path)]
            config["MICRO_SERVICES"] = [pages_plugin(idp.config_path)]
        else:
            upstream.start(backend_metadata(config))
        app = make_satosa(config)
        servers = [
            make_server("127.0.0.1", port, app, threaded=True),
            make_server("127.0.0.1", sp_port, create_sp(satosa_dir / "sp"), threaded=True),
        ]
        if not passwordless:
            servers.append(make_server("127.0.0.1", up_port, upstream, threaded=True))
        threads = [_Thread(s) for s in servers]
        for t in threads:
            t.start()
        runtime = _SHARED[idp.config_path.resolve()]
        try:
            yield Proxy(idp, upstream, base, port, sp_url, sp, satosa_dir, config, runtime)
        finally:
            for s in servers:
                s.shutdown()
            for t in threads:
                t.join(timeout=5)
            _SHARED.pop(idp.config_path.resolve(), None)
            runtime.close()


_FORM = re.compile(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input[^>]*name=\"([^\"]+)\"[^>]*value=\"([^\"]*)\"", re.I)


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The first form of an auto-posting page (pysaml2's or ours), as a browser submits it."""
    match = _FORM.search(page)
    assert match, f"no form in: {page[:400]}"
    fields = {html.unescape(k): html.unescape(v) for k, v in _INPUT.findall(match.group(2))}
    return html.unescape(match.group(1)), fields
