"""Microsoft Entra ID External Authentication Method (EAM): Entra's OIDC profile.

Entra POSTs an implicit-flow request (``response_type=id_token``, ``response_mode=form_post``)
whose ``id_token_hint`` is an Entra-signed RS256 JWT naming the user (pairwise ``sub``, ``oid``,
``tid``, ``preferred_username``). The hint arrives already expired, so it is bounded by its
``iat`` age instead of ``exp``. We run the second factor the policy requires and post back an
id_token with ``sub`` = the hint's ``sub``, ``aud`` = ``client_id``, ``nonce``, one requested
``acr`` and a one-element ``amr`` naming the factor actually used. Errors go back as form posts
(``access_denied``, ``temporarily_unavailable``, ``invalid_request``).

Entra's keys are fetched through a function the runtime passes in (the module does no IO)
by :class:`EntraJwks`: one fetch at a time per URL, outside any lock, refetched for an
unknown ``kid`` at most once per interval, the last good keys served (up to a maximum age)
while Entra cannot be reached.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from idp.directory.model import Employee
from idp.factors.kinds import FactorKind
from idp.oidc.authorize import AuthorizationResponse, Params, one
from idp.oidc.claims import parse_claims_parameter
from idp.oidc.entra_jwks import EntraJwks
from idp.oidc.errors import (
    AccessDeniedError,
    InvalidRedirectUriError,
    InvalidRequestError,
    JwtClaimsError,
    JwtError,
    OidcError,
    UnknownClientError,
    UnsupportedResponseTypeError,
)
from idp.oidc.keys import OidcKeys, numeric_date, unverified_header, verify_jwt
from idp.oidc.tokens import id_token_claims
from idp.sessions import AuthContext

LINKING_MODES = ("oid_tid", "preferred_username")
#: amr values Entra accepts for an EAM (RFC 8176 names); ``pwd``/``kba`` are first factors
SECOND_FACTOR_AMR = ("fido", "hwk", "swk", "otp", "sms", "tel", "face", "fpt", "iris", "retina",
                     "vbm", "pop", "sc")  # fmt: skip
#: the amr values a ceremony of each factor kind can record (a passkey: fido + hwk or swk);
#: what an EAM policy can ever answer, checked before any factor step
FACTOR_AMR: Mapping[FactorKind, tuple[str, ...]] = {
    FactorKind.PASSKEY: ("fido", "hwk", "swk"),
    FactorKind.TOTP: ("otp",),
    FactorKind.AUTHENTICATOR_APP: ("swk",),
    FactorKind.HARDWARE_VAULT: ("hwk",),
    FactorKind.PASSWORD: ("pwd",),
}
_GUID = r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class EntraCloud:
    """One Microsoft cloud: its token issuer prefix, its JWKS, and Entra's EAM redirect URI."""

    name: str
    issuer_prefix: str
    jwks_url: str
    redirect_uri: str

    def issuer(self, tenant_id: str) -> str:
        return f"{self.issuer_prefix}{tenant_id}/v2.0"


def _cloud(name: str, host: str) -> EntraCloud:
    return EntraCloud(
        name=name,
        issuer_prefix=f"https://{host}/",
        jwks_url=f"https://{host}/common/discovery/v2.0/keys",
        redirect_uri=f"https://{host}/common/federation/externalauthprovider",
    )


ENTRA_CLOUDS = (
    _cloud("global", "login.microsoftonline.com"),
    _cloud("usgov", "login.microsoftonline.us"),
    _cloud("china", "login.partner.microsoftonline.cn"),
)


def offered_amr(factors: frozenset[FactorKind]) -> tuple[str, ...]:
    """The second-factor amr values a policy allowing ``factors`` can answer Entra with."""
    values = {v for kind in factors for v in FACTOR_AMR[kind]}
    return tuple(v for v in SECOND_FACTOR_AMR if v in values)


@dataclass(frozen=True)
class EamSettings:
    client_ids: tuple[str, ...]
    tenants: frozenset[str]
    hint_audience: str
    max_hint_age: int = 600
    clock_skew: int = 300
    linking: str = "oid_tid"
    policy: str | None = None
    acr_values: tuple[str, ...] = ("possessionorinherence",)
    clouds: tuple[EntraCloud, ...] = ENTRA_CLOUDS
    id_token_lifetime: int = 300
    #: seconds a factor used earlier in the browser's session still counts; 0 = always fresh
    reuse_factor_for: int = 0
    jwks_refresh_interval: int = 300
    jwks_max_age: int = 86400
    #: the amr values the EAM policy's factors can produce (``offered_amr`` of its factors)
    amr_values: tuple[str, ...] = offered_amr(frozenset({FactorKind.PASSKEY}))

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return tuple(c.redirect_uri for c in self.clouds)

    def cloud(self, name: str) -> EntraCloud:
        return next(c for c in self.clouds if c.name == name)


@dataclass(frozen=True)
class EntraHint:
    """The validated claims of Entra's id_token_hint that we use."""

    sub: str
    oid: str
    tid: str
    preferred_username: str | None
    iat: int
    cloud: str


@dataclass(frozen=True)
class EamTarget:
    """Where Entra's answer goes: its redirect URI, of the cloud whose hint is answered."""

    client_id: str
    redirect_uri: str
    state: str | None
    cloud: str


@dataclass(frozen=True)
class EamRequest:
    client_id: str
    redirect_uri: str
    state: str | None
    nonce: str
    hint: EntraHint
    requested_acr: tuple[str, ...]
    requested_amr: tuple[str, ...]
    received_at: float
    client_request_id: str | None = None

    @property
    def target(self) -> EamTarget:
        return EamTarget(self.client_id, self.redirect_uri, self.state, self.hint.cloud)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> EamRequest:
        data: dict[str, Any] = json.loads(raw)
        data["hint"] = EntraHint(**data["hint"])
        data["requested_acr"] = tuple(data["requested_acr"])
        data["requested_amr"] = tuple(data["requested_amr"])
        return cls(**data)


def identify_eam_client(params: Params, *, settings: EamSettings) -> EamTarget:
    """The EAM client and Entra's redirect URI; errors here are not posted back.

    The redirect URI must be the one of the cloud that issued the hint (its claimed issuer,
    verified later with that cloud's keys): a hint from one cloud is never answered to another.
    A hint too broken to name a cloud is answered to the redirect URI's cloud, which refuses
    it. An oversized or repeated ``state`` is left out here, so that the refusal of it is
    posted to Entra rather than shown as a page.
    """
    client_id = one(params, "client_id", redirectable=False)
    if client_id is None or client_id not in settings.client_ids:
        raise UnknownClientError(f"unknown EAM client_id {(client_id or '')[:64]!r}")
    redirect_uri = one(params, "redirect_uri", redirectable=False)
    clouds = [c for c in settings.clouds if c.redirect_uri == redirect_uri]
    if redirect_uri is None or not clouds:
        raise InvalidRedirectUriError(
            f"redirect_uri {(redirect_uri or '')[:200]!r} is not an Entra EAM redirect URI"
        )
    cloud = clouds[0]
    claimed = _claimed_cloud(params, settings)
    if claimed is not None:
        if claimed not in clouds:
            raise InvalidRedirectUriError(
                f"the id_token_hint was issued by the {claimed.name} cloud, but redirect_uri "
                f"{redirect_uri[:200]!r} belongs to the {cloud.name} cloud"
            )
        cloud = claimed
    try:
        state = one(params, "state")
    except InvalidRequestError:
        state = None
    return EamTarget(client_id, redirect_uri, state, cloud.name)


def _claimed_cloud(params: Params, settings: EamSettings) -> EntraCloud | None:
    # Unverified, only to route: the hint is verified with this cloud's keys afterwards.
    try:
        token = one(params, "id_token_hint")
        claimed_iss = _unverified_issuer(token) if token is not None else None
    except (InvalidRequestError, JwtError):
        return None
    if claimed_iss is None:
        return None
    return next((c for c in settings.clouds if claimed_iss.startswith(c.issuer_prefix)), None)


def parse_eam_request(
    params: Params,
    *,
    target: EamTarget,
    settings: EamSettings,
    jwks: EntraJwks,
    now: dt.datetime,
) -> EamRequest:
    """Check Entra's request and its hint (errors are posted back to Entra).

    An ``amr`` requirement the policy's factors can never meet is refused here, before any
    factor step, as :func:`choose_acr` refuses an ``acr`` (Entra asks for ``amr`` values
    with ``essential: true``).
    """
    for name in params:
        one(params, name)
    if one(params, "response_type") != "id_token":
        raise UnsupportedResponseTypeError("an EAM request must use response_type=id_token")
    if one(params, "response_mode") != "form_post":
        raise InvalidRequestError("an EAM request must use response_mode=form_post")
    if "openid" not in (one(params, "scope") or "").split():
        raise InvalidRequestError("scope must include openid")
    nonce = one(params, "nonce")
    if nonce is None:
        raise InvalidRequestError("nonce is missing; Entra always sends one")
    token = one(params, "id_token_hint")
    if token is None:
        raise InvalidRequestError("id_token_hint is missing")
    hint = validate_hint(token, settings=settings, cloud=settings.cloud(target.cloud), jwks=jwks,
                         now=now)  # fmt: skip
    claims = parse_claims_parameter(one(params, "claims")).id_token
    acr = claims.get("acr")
    amr = claims.get("amr")
    requested_amr = amr.values if amr is not None else ()
    if requested_amr and not set(requested_amr) & set(settings.amr_values):
        raise InvalidRequestError(
            f"none of the requested amr values ({', '.join(requested_amr)[:200]}) can be met; "
            f"this provider's factors give {', '.join(settings.amr_values) or 'none'}"
        )
    return EamRequest(
        client_id=target.client_id,
        redirect_uri=target.redirect_uri,
        state=target.state,
        nonce=nonce,
        hint=hint,
        requested_acr=acr.values if acr is not None else (),
        requested_amr=requested_amr,
        received_at=now.timestamp(),
        client_request_id=one(params, "client-request-id"),
    )


def validate_hint(
    token: str, *, settings: EamSettings, cloud: EntraCloud, jwks: EntraJwks, now: dt.datetime
) -> EntraHint:
    """Full validation of Entra's id_token_hint from ``cloud``: signature by ``kid`` with that
    cloud's keys, issuer for an allowed tenant, audience, and ``iat`` age (its ``exp`` has
    passed by design)."""
    try:
        return _validate_hint(token, settings, cloud, jwks, now)
    except JwtError as exc:
        raise InvalidRequestError(exc.description) from None


def _validate_hint(
    token: str, settings: EamSettings, cloud: EntraCloud, jwks: EntraJwks, now: dt.datetime
) -> EntraHint:
    unverified_header(token, what="id_token_hint")
    claimed_iss = _unverified_issuer(token)
    if not claimed_iss.startswith(cloud.issuer_prefix):
        raise JwtClaimsError(
            f"id_token_hint: issuer {claimed_iss[:120]!r} is not of the {cloud.name} Entra cloud"
        )
    claims = verify_jwt(
        token,
        lookup=lambda kid: jwks.key(url=cloud.jwks_url, kid=kid, now=now),
        algorithms=("RS256",),
        what="id_token_hint",
    ).claims
    tid = _str_claim(claims, "tid")
    if tid.lower() not in settings.tenants:
        raise JwtClaimsError(f"id_token_hint: tenant {tid[:64]!r} is not allowed here")
    if claims.get("iss") != cloud.issuer(tid):
        raise JwtClaimsError(
            f"id_token_hint: expected issuer {cloud.issuer(tid)}, got {claims.get('iss')!r}"
        )
    aud = claims.get("aud")
    if settings.hint_audience not in (aud if isinstance(aud, list) else [aud]):
        raise JwtClaimsError(
            f"id_token_hint: expected audience {settings.hint_audience}, got {aud!r}"
        )
    iat = _check_hint_dates(claims, settings, int(now.timestamp()))
    username = claims.get("preferred_username")
    return EntraHint(
        sub=_str_claim(claims, "sub"),
        oid=_str_claim(claims, "oid"),
        tid=tid.lower(),
        preferred_username=username if isinstance(username, str) and username else None,
        iat=iat,
        cloud=cloud.name,
    )


def _check_hint_dates(claims: Mapping[str, Any], settings: EamSettings, stamp: int) -> int:
    """The hint's ``iat``, bounded by ``max_hint_age``; ``nbf`` may not lie ahead either.

    ``exp`` has passed by design (Entra's hints arrive expired), but it must still be a date.
    """
    what = "id_token_hint"
    iat = numeric_date(claims, "iat", what=what)
    not_before = numeric_date(claims, "nbf", what=what)
    numeric_date(claims, "exp", what=what)
    if iat is None:
        raise JwtClaimsError("id_token_hint: iat is missing")
    for name, value in (("iat", iat), ("nbf", not_before)):
        if value is not None and value > stamp + settings.clock_skew:
            raise JwtClaimsError(f"id_token_hint: {name} is {value - stamp} s in the future")
    if stamp - iat > settings.max_hint_age:
        raise JwtClaimsError(
            f"id_token_hint: issued {stamp - iat} s ago; at most {settings.max_hint_age} s allowed"
        )
    return iat


def _unverified_issuer(token: str) -> str:
    # Only to choose which cloud's keys to try; every claim is checked after verification.
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, IndexError, UnicodeDecodeError, RecursionError):
        raise JwtClaimsError("id_token_hint: the payload is not base64url JSON") from None
    iss = data.get("iss") if isinstance(data, dict) else None
    if not isinstance(iss, str):
        raise JwtClaimsError("id_token_hint: iss is missing")
    return iss


def _str_claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > 256:
        raise JwtClaimsError(f"id_token_hint: {name} is missing or not a string")
    return value


def link_employee(
    hint: EntraHint,
    *,
    linking: str,
    by_entra_id: Callable[[str, str], Employee | None],
    by_username: Callable[[str], Employee | None],
) -> Employee:
    """The employee the hint names: by ``oid``+``tid`` or by ``preferred_username``."""
    if linking == "oid_tid":
        employee = by_entra_id(hint.oid, hint.tid)
        what = f"Entra object id {hint.oid} in tenant {hint.tid}"
    elif hint.preferred_username is None:
        raise AccessDeniedError(
            "the id_token_hint carries no preferred_username, which linking: "
            "preferred_username needs to find the employee"
        )
    else:
        employee = by_username(hint.preferred_username)
        what = f"user name {hint.preferred_username!r}"
    if employee is None:
        raise AccessDeniedError(f"no employee is linked to {what}")
    if not employee.can_sign_in:
        raise AccessDeniedError("the linked employee may not sign in")
    return employee


def choose_acr(request: EamRequest, *, settings: EamSettings) -> str:
    """The first requested ``acr`` we can claim; Entra rejects any value it did not ask for."""
    if not request.requested_acr:
        return settings.acr_values[0]
    for value in request.requested_acr:
        if value in settings.acr_values:
            return value
    raise InvalidRequestError(
        f"none of the requested acr values ({', '.join(request.requested_acr)[:200]}) can be "
        f"met; this provider offers {', '.join(settings.acr_values)}"
    )


def choose_amr(
    context: AuthContext, *, requested: tuple[str, ...], since: dt.datetime | None
) -> str:
    """One ``amr`` value naming the second factor actually used (the latest qualifying one)."""
    for use in sorted(context.factors, key=lambda u: u.at, reverse=True):
        if since is not None and use.at < since:
            continue
        for value in use.amr:
            if value in SECOND_FACTOR_AMR and (not requested or value in requested):
                return value
    raise AccessDeniedError(
        "the sign-in used no factor whose method Entra asked for "
        f"({', '.join(requested) or 'any second factor'})"
    )


def eam_response(
    request: EamRequest,
    *,
    keys: OidcKeys,
    issuer: str,
    acr: str,
    amr: str,
    auth_time: int,
    now: dt.datetime,
    lifetime: int,
) -> AuthorizationResponse:
    """The auto-posted answer: an RS256 id_token (Entra verifies RS256) and ``state``."""
    claims = id_token_claims(
        issuer=issuer,
        subject=request.hint.sub,
        client_id=request.client_id,
        now=int(now.timestamp()),
        lifetime=lifetime,
        auth_time=auth_time,
        acr=acr,
        amr=(amr,),
        nonce=request.nonce,
    )
    fields = [("id_token", keys.sign(claims, alg="RS256"))]
    if request.state is not None:
        fields.append(("state", request.state))
    return AuthorizationResponse(request.redirect_uri, "form_post", tuple(fields))


def eam_discovery(
    *,
    issuer: str,
    authorization_endpoint: str,
    jwks_uri: str,
    settings: EamSettings,
    algorithms: tuple[str, ...],
) -> dict[str, Any]:
    """The discovery document of a provider that serves EAM only (implicit flow, no token
    endpoint: OIDC Discovery 1.0 §3 makes it optional then), as Entra reads it."""
    return {
        "issuer": issuer,
        "authorization_endpoint": authorization_endpoint,
        "jwks_uri": jwks_uri,
        "scopes_supported": ["openid"],
        "response_types_supported": ["id_token"],
        "response_modes_supported": ["form_post"],
        "grant_types_supported": ["implicit"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": list(algorithms),
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr",
                             "amr"],
        "claims_parameter_supported": True,
        "acr_values_supported": list(settings.acr_values),
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }  # fmt: skip


def eam_error_response(target: EamTarget, exc: OidcError) -> AuthorizationResponse:
    """An error posted back to Entra; anything but the three EAM codes becomes invalid_request."""
    code = exc.error
    if code not in ("access_denied", "temporarily_unavailable", "invalid_request"):
        code = "invalid_request"
    fields = [("error", code), ("error_description", exc.description)]
    if target.state is not None:
        fields.append(("state", target.state))
    return AuthorizationResponse(target.redirect_uri, "form_post", tuple(fields))
