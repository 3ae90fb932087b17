"""A browser stand-in for SATOSA flows over plain HTTP: the SP, SATOSA, the upstream IdP and
the MFA pages, with a passkey enrolled at the Flask IdP (``CraftedKey``, the project's own
authenticator that sets the UV flag the demo policy needs)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import urlsplit

import requests
from lxml import etree

from tests.e2e.helpers import PasskeyClient
from tests.e2e.satosa.proxy import Proxy, form_of
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
SAML = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}


class SatosaClient:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.enrolled = PasskeyClient(proxy.idp, crafted=True)
        self.http = self.enrolled.http
        #: where this browser's requests to SATOSA go (another worker behind the same name)
        self.base = proxy.base

    def url(self, path: str) -> str:
        return self.base + path

    def enrol(self, username: str) -> None:
        """A passkey enrolled at the Flask IdP; its session is dropped (a new browser visit),
        so that SATOSA asks for the factor."""
        self.enrolled.enrol(username)
        self.http.cookies.clear()

    @property
    def key(self) -> CraftedKey:
        assert isinstance(self.enrolled.key, CraftedKey), "enrol first"
        return self.enrolled.key

    def start(self) -> requests.Response:
        """SP → SATOSA → upstream IdP → SATOSA's ACS: what SATOSA answers the upstream with."""
        sp = self.http.get(self.proxy.sp_url + "/login", allow_redirects=False, timeout=10)
        assert sp.status_code == 302, sp.text
        to_backend = self.http.get(sp.headers["Location"], allow_redirects=False, timeout=10)
        assert to_backend.status_code in (302, 303), to_backend.text[:500]
        upstream = self.http.get(to_backend.headers["Location"], timeout=10)
        assert upstream.status_code == 200, upstream.text[:500]
        action, fields = form_of(upstream.text)
        return self.http.post(action, data=fields, allow_redirects=False, timeout=10)

    def ticket_of(self, response: requests.Response) -> str:
        location = response.headers.get("Location", "")
        assert "/hideez/login?ticket=" in location, (response.status_code, response.text[:500])
        return location.split("ticket=", 1)[1]

    def csrf(self, ticket: str) -> str:
        page = self.http.get(self.url(f"/hideez/login?ticket={ticket}"), timeout=10)
        assert page.status_code == 200, page.text[:500]
        match = _CSRF.search(page.text)
        assert match, page.text[:500]
        return match.group(1)

    def post_json(self, path: str, body: dict[str, Any], csrf: str) -> requests.Response:
        return self.http.post(self.url(path), json=body, headers={"X-CSRF-Token": csrf}, timeout=10)

    def passkey(
        self, ticket: str, *, flags: int = UP | UV, key: CraftedKey | None = None
    ) -> requests.Response:
        """The sign-in page's passkey step on SATOSA (options, then the assertion)."""
        csrf = self.csrf(ticket)
        options = self.post_json("/passkey/login/options", {"ticket": ticket}, csrf)
        assert options.status_code == 200, options.text
        body = options.json()
        challenge = unb64u(body["publicKey"]["challenge"])
        signer = key or self.key
        credential = json.loads(signer.assert_(challenge, flags=flags, origin=self.proxy.base))
        return self.post_json(
            "/passkey/login/verify",
            {"ticket": ticket, "handle": body["handle"], "credential": credential},
            csrf,
        )

    def resume(self, verify: requests.Response) -> requests.Response:
        assert verify.status_code == 200, verify.text
        redirect = verify.json()["redirect"]
        assert urlsplit(redirect).path == "/hideez/mfa/resume", redirect
        return self.http.get(self.url(redirect), allow_redirects=False, timeout=10)

    def sign_in(self) -> requests.Response:
        """The whole flow with MFA by passkey; SATOSA's answer to the SP (an auto-post)."""
        return self.resume(self.passkey(self.ticket_of(self.start())))

    def deliver(self, answer: requests.Response) -> requests.Response:
        """Post SATOSA's answer to the demo SP (python3-saml, strict) and open its page."""
        action, fields = form_of(answer.text)
        assert action == self.proxy.sp_url + "/acs", action
        acs = self.http.post(action, data=fields, allow_redirects=False, timeout=10)
        assert acs.status_code == 302, acs.text[:800]
        return self.http.get(self.proxy.sp_url + "/", timeout=10)


def assertion_of(answer: requests.Response | str) -> etree._Element:
    _, fields = form_of(answer if isinstance(answer, str) else answer.text)
    return etree.fromstring(base64.b64decode(fields["SAMLResponse"]))


def class_ref(answer: requests.Response | str) -> str:
    refs = assertion_of(answer).xpath("//saml:AuthnContextClassRef/text()", namespaces=SAML)
    assert len(refs) == 1, refs
    return str(refs[0])
