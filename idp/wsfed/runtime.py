"""What the WS-Fed endpoints need at run time, built once at start.

:func:`build` prepares one XML signer per signature/digest pair the relying parties use and
proves each of them at start by signing and verifying a probe token, so a realm whose signing
is misconfigured (an algorithm the key cannot do, an expired certificate) stops the server
from starting instead of failing an employee's sign-in.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import xmlsec
from lxml import etree

from idp.directory.model import Employee
from idp.errors import ConfigError, IdpError
from idp.keys import KeySet
from idp.sessions import AuthContext
from idp.wsfed import constants as c
from idp.wsfed.metadata import build_metadata
from idp.wsfed.model import RelyingParty, WsFedSettings
from idp.wsfed.requests import SignInRequest
from idp.wsfed.tokens import build_signin_response
from idp.xmlsig import XmlSigner

if TYPE_CHECKING:
    from idp.runtime import Runtime

METADATA_CACHE = dt.timedelta(hours=1)


@dataclass
class WsFedRuntime:
    settings: WsFedSettings
    keys: KeySet
    signers: dict[tuple[str, str], XmlSigner]
    _metadata: tuple[dt.datetime, bytes] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def signer_for(self, rp: RelyingParty) -> XmlSigner:
        return self.signers[(rp.sign_hash, rp.digest_algorithm)]

    @property
    def metadata_signer(self) -> XmlSigner:
        return self.signers[("sha256", "sha256")]

    def metadata(self, *, now: dt.datetime) -> bytes:
        """The signed metadata, rebuilt at most hourly (it carries a validUntil)."""
        with self._lock:
            cached = self._metadata
            if cached is None or now - cached[0] >= METADATA_CACHE or now < cached[0]:
                document = build_metadata(
                    settings=self.settings, keys=self.keys, signer=self.metadata_signer, now=now
                )
                cached = self._metadata = (now, document)
            return cached[1]


def build(runtime: Runtime, settings: WsFedSettings) -> WsFedRuntime:
    """Called once by :func:`idp.protocols.build_protocols`."""
    return build_wsfed(
        settings=settings, keys=runtime.keys, now=runtime.now(), default_signer=runtime.xml_signer
    )


def build_wsfed(
    *,
    settings: WsFedSettings,
    keys: KeySet,
    now: dt.datetime,
    default_signer: XmlSigner | None = None,
) -> WsFedRuntime:
    """Prepare and prove the signers; a :class:`ConfigError` names the realm that cannot sign."""
    _check_certificate(keys, now=now)
    family = "rsa" if keys.current.algorithm == "RS256" else "ec"
    signers: dict[tuple[str, str], XmlSigner] = {}
    if default_signer is not None and default_signer.key is keys.current:
        signers[(default_signer.sign_hash, default_signer.digest_hash)] = default_signer
    for rp in (*settings.relying_parties, None):
        pair = (rp.sign_hash, rp.digest_algorithm) if rp else ("sha256", "sha256")
        if rp is not None and rp.key_family != family:
            raise _rp_error(
                settings,
                rp,
                f"signature_algorithm {rp.signature_algorithm} needs an "
                f"{rp.key_family.upper()} key, but the signing key is {family.upper()}",
            )
        if pair not in signers:
            try:
                signers[pair] = XmlSigner(keys.current, sign_hash=pair[0], digest_hash=pair[1])
            except IdpError as exc:
                target = rp.name if rp else "metadata"
                raise ConfigError(settings.source, f"wsfed ({target})", exc.description) from None
    wsfed = WsFedRuntime(settings=settings, keys=keys, signers=signers)
    for rp in settings.relying_parties:
        _prove(wsfed, rp, now=now)
    return wsfed


def _check_certificate(keys: KeySet, *, now: dt.datetime) -> None:
    cert = keys.current.certificate
    if cert.not_valid_after_utc <= now:
        raise ConfigError(
            "keys.signing",
            "cert",
            f"the signing certificate expired on "
            f"{cert.not_valid_after_utc.isoformat()}; WS-Fed relying parties "
            "would refuse every token",
        )


def _prove(wsfed: WsFedRuntime, rp: RelyingParty, *, now: dt.datetime) -> None:
    """Sign a probe token for ``rp`` and verify it with the certificate the RP trusts."""
    probe_employee = Employee(
        id="probe",
        username="probe",
        email="probe@invalid",
        first_name="Probe",
        last_name="Token",
        ad_object_sid="S-1-5-21-0-0-0-500",
        external_ids={"upn": "probe@invalid"},
    )
    context = AuthContext(session_id="probe", employee_id="probe", auth_time=now, factors=())
    # The probe proves signing, not the directory: no claim can be missing for it.
    relaxed = replace(
        rp,
        claims=tuple(replace(rule, required=False) for rule in rp.claims),
        name_identifier=None,
    )
    request = SignInRequest(
        relying_party=relaxed,
        realm=rp.realm,
        reply_url=rp.reply_urls[0],
        context=None,
        force_fresh=False,
        max_age=None,
        rp_time=None,
        home_realm=None,
        received_at=now,
    )
    try:
        response = build_signin_response(
            request=request,
            employee=probe_employee,
            context=context,
            authn_context_class_ref=c.AC_UNSPECIFIED_20,
            issuer=wsfed.settings.issuer,
            lifetime=wsfed.settings.lifetime_for(rp),
            signer=wsfed.signer_for(rp),
            now=now,
        )
        _verify_probe(response.wresult, wsfed.keys, rp)
    except (IdpError, xmlsec.Error) as exc:
        reason = exc.description if isinstance(exc, IdpError) else str(exc)
        raise _rp_error(
            wsfed.settings, rp, f"a probe token could not be signed and verified: {reason}"
        ) from None


def _verify_probe(wresult: str, keys: KeySet, rp: RelyingParty) -> None:
    root = etree.fromstring(wresult.encode())
    signature = root.find(f".//{{{c.DS_NS}}}Signature")
    if signature is None:
        raise xmlsec.Error("the probe token has no signature")
    id_attr = "AssertionID" if rp.token_type.value == "saml11" else "ID"
    assertion = signature.getparent()
    assert assertion is not None
    xmlsec.tree.add_ids(assertion, [id_attr])
    key = xmlsec.Key.from_memory(keys.current.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    ctx.verify(signature)


def _rp_error(settings: WsFedSettings, rp: RelyingParty, reason: str) -> ConfigError:
    return ConfigError(
        settings.source, f"wsfed.relying_parties[{rp.name}] (realm {rp.realm})", reason
    )
