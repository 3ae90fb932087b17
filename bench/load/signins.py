"""Complete sign-ins as a browser, a relying party and a phone do them, over httpx (asyncio):

- ``saml``: the python3-saml SP's signed AuthnRequest (HTTP-Redirect) → the login page →
  passkey (the project's software authenticator, ``CraftedKey``, UV set) → the resume URL →
  the auto-post form, whose Response the SP checks (``saml_check``: both signatures, audience,
  InResponseTo, recipient, times);
- ``oidc``: the code flow with PKCE → login page → passkey → the code → the token endpoint,
  and the id_token checked against the IdP's JWKS (signature, audience, nonce);
- ``push``: the same code flow, the sign-in approved on the reference authenticator app
  (``authenticator.Authenticator``, run in a thread: it is synchronous) with the number the
  page shows.

Every sign-in is one fresh browser (the user's cookie jar is emptied first); a step that gets
another answer than expected ends it as failed, naming the step and the status. A push sign-in
that failed after its request was sent leaves that request outstanding on the server (one per
person, for its lifetime): the user then signs in with the passkey instead until it expired,
so that one failure is not counted again as the next sign-ins' ``push_outstanding``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from authenticator import Authenticator, AuthenticatorError
from bench.load.saml_check import ResponseRejected, SpView, check_response
from bench.servers import python3_saml_sp
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

REDIRECT_URI = "https://rp.example.com/cb"
CLIENT_ID = "load"
try:
    import sniffio  # type: ignore[import-not-found]  # noqa: F401
except ImportError:
    # httpcore tries ``import sniffio`` on every request; not installed, each try is a search of
    # sys.path (a tenth of the generator's CPU). Marked absent, it fails at once (asyncio).
    sys.modules["sniffio"] = None  # type: ignore[assignment]
_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
_SAML_RESPONSE = re.compile(r'name="SAMLResponse" value="([^"]+)"')
FLOWS = ("saml", "oidc", "push")


class SignInFailed(Exception):
    """A step got another answer than the flow expects."""

    def __init__(self, step: str, status: int, detail: str, *, retry_after: str = "") -> None:
        super().__init__(f"{step}: {status} {detail}")
        self.step, self.status, self.retry_after = step, status, retry_after


@dataclass
class User:
    """A virtual user: an employee with a passkey and an enrolled phone, and one browser."""

    username: str
    key: CraftedKey
    phone: Authenticator
    browser: httpx.AsyncClient
    #: the phone's last answer's Retry-After (the reference app raises without its headers)
    phone_retry_after: list[str] = field(default_factory=lambda: [""])
    #: until then (monotonic clock) a push request of a failed sign-in may still be outstanding
    push_blocked_until: float = 0.0


@dataclass(frozen=True)
class Outcome:
    flow: str
    username: str
    started: float
    seconds: float
    error: SignInFailed | None = None


@dataclass
class Relying:
    """What the relying parties know: the SP's settings, the OIDC client and the IdP's keys."""

    base_url: str
    sp_settings: dict[str, Any]
    client_secret: str
    keys: KeySet
    saml_requests: list[tuple[str, str]]  # prepared (path + query, request id), used once each
    sp: SpView = field(init=False)

    def __post_init__(self) -> None:
        self.sp = SpView.of(self.sp_settings)

    def saml_request(self) -> tuple[str, str]:
        if self.saml_requests:
            return self.saml_requests.pop()
        return authn_request(self.sp_settings)


def authn_request(sp_settings: dict[str, Any]) -> tuple[str, str]:
    auth = python3_saml_sp(sp_settings)
    url = auth.login(return_to="/")
    return url[url.index("/saml/login") :], auth.get_last_request_id()


def _check(response: httpx.Response, step: str, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        raise SignInFailed(step, response.status_code, response.text[:160].replace("\n", " "),
                           retry_after=response.headers.get("Retry-After", ""))  # fmt: skip
    return response


async def _login_page(user: User, location: str) -> tuple[str, str]:
    """The ticket and the CSRF token of the login page a protocol request was sent to."""
    if "/login?ticket=" not in location:
        raise SignInFailed("login redirect", 0, f"expected /login?ticket=…, got {location[:80]}")
    page = _check(await user.browser.get(location), "login page", 200)
    match = _CSRF.search(page.text)
    if match is None:
        raise SignInFailed("login page", page.status_code, "no CSRF token on the page")
    return location.split("ticket=", 1)[1], match.group(1)


async def passkey(user: User, base_url: str, location: str) -> str:
    """Sign in with the passkey on the login page at ``location``; the resume URL."""
    ticket, csrf = await _login_page(user, location)
    headers = {"X-CSRF-Token": csrf}
    asked = await user.browser.post(
        "/passkey/login/options", json={"ticket": ticket}, headers=headers
    )
    options = _check(asked, "passkey options", 200).json()
    challenge = unb64u(options["publicKey"]["challenge"])
    credential = json.loads(user.key.assert_(challenge, flags=UP | UV, origin=base_url))
    body = {"ticket": ticket, "handle": options["handle"], "credential": credential}
    done = await user.browser.post("/passkey/login/verify", json=body, headers=headers)
    return str(_check(done, "passkey verify", 200).json()["redirect"])


async def push(user: User, base_url: str, location: str) -> str:
    """Sign in with a push the phone approves; the resume URL."""
    ticket, csrf = await _login_page(user, location)
    headers = {"X-CSRF-Token": csrf}
    body = {"ticket": ticket, "username": user.username}
    started = await user.browser.post("/push/login/start", headers=headers, json=body)
    shown = _check(started, "push start", 200).json()
    try:
        return await _approved(user, ticket, shown, headers)
    except SignInFailed:
        user.push_blocked_until = time.monotonic() + float(shown.get("expires_in", 120)) + 5
        raise


async def _approved(user: User, ticket: str, shown: dict[str, Any],
                    headers: dict[str, str]) -> str:  # fmt: skip
    transaction = shown["transaction_id"]
    try:
        decision = await asyncio.to_thread(user.phone.approve, shown["number"],
                                           transaction_id=transaction)  # fmt: skip
    except AuthenticatorError as exc:
        await _deny_left_over(user, transaction)
        raise SignInFailed("phone approve", exc.status, str(exc)[:160],
                           retry_after=user.phone_retry_after[0]) from None  # fmt: skip
    if decision != "approved":
        raise SignInFailed("phone approve", 200, f"expected approved, got {decision}")
    body = {"ticket": ticket, "transaction_id": transaction}
    polled = _check(await user.browser.post("/push/login/poll", json=body, headers=headers),
                    "push poll", 200).json()  # fmt: skip
    if "redirect" not in polled:
        raise SignInFailed("push poll", 200, f"expected a redirect, got {polled}")
    return str(polled["redirect"])


async def _deny_left_over(user: User, transaction: str) -> None:
    """After a failed approval the person declines what is left on the phone, as they would
    (else the request blocks their next one for its lifetime: one outstanding per person)."""
    with contextlib.suppress(AuthenticatorError, httpx.HTTPError):
        await asyncio.to_thread(user.phone.deny, transaction_id=transaction)


async def saml(user: User, rp: Relying) -> None:
    path, request_id = rp.saml_request()
    start = _check(await user.browser.get(path), "saml request", 303)
    resume = await passkey(user, rp.base_url, start.headers["Location"])
    form = _check(await user.browser.get(resume), "saml answer", 200)
    match = _SAML_RESPONSE.search(form.text)
    if match is None:
        raise SignInFailed("saml answer", 200, "no SAMLResponse in the auto-post form")
    try:
        check_response(rp.sp, match.group(1), request_id)
    except ResponseRejected as exc:
        raise SignInFailed("saml check", 200, str(exc)[:160]) from None


async def oidc(user: User, rp: Relying, factor: Callable[[User, str, str], Awaitable[str]]) -> None:
    verifier, nonce, state = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
             "scope": "openid email", "state": state, "nonce": nonce,
             "code_challenge": challenge.rstrip(b"=").decode(),
             "code_challenge_method": "S256"}  # fmt: skip
    start = _check(await user.browser.get("/oidc/authorize?" + urlencode(query)),
                   "oidc authorize", 303)  # fmt: skip
    resume = await factor(user, rp.base_url, start.headers["Location"])
    back = _check(await user.browser.get(resume), "oidc resume", 302, 303)
    answer = parse_qs(urlsplit(back.headers["Location"]).query)
    if answer.get("state") != [state] or "code" not in answer:
        raise SignInFailed("oidc resume", back.status_code, f"expected code and state: {answer}")
    form = {"grant_type": "authorization_code", "code": answer["code"][0],
            "redirect_uri": REDIRECT_URI, "code_verifier": verifier}  # fmt: skip
    token = await user.browser.post("/oidc/token", data=form,
                                    auth=(CLIENT_ID, rp.client_secret))  # fmt: skip
    id_token = _check(token, "oidc token", 200).json()["id_token"]
    claims = jwt.decode(id_token, rp.keys).claims
    if claims.get("aud") != CLIENT_ID or claims.get("nonce") != nonce:
        raise SignInFailed("id_token check", 200, f"audience/nonce mismatch: {claims}")


async def sign_in(flow: str, user: User, rp: Relying) -> Outcome:
    """One complete sign-in of ``flow`` by ``user``; never raises for what the server did."""
    user.browser.cookies.clear()
    if flow == "push" and time.monotonic() < user.push_blocked_until:
        flow = "oidc"
    started = time.perf_counter()
    try:
        if flow == "saml":
            await saml(user, rp)
        elif flow == "oidc":
            await oidc(user, rp, passkey)
        else:
            await oidc(user, rp, push)
    except SignInFailed as exc:
        return Outcome(flow, user.username, started, time.perf_counter() - started, exc)
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        failed = SignInFailed("transport", 0, repr(exc)[:160])
        return Outcome(flow, user.username, started, time.perf_counter() - started, failed)
    return Outcome(flow, user.username, started, time.perf_counter() - started)
