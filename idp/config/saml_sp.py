"""One SAML service provider per YAML file (``config/relying_parties/<name>.yaml``).

The file may point at the SP's metadata XML for entity id, endpoints and certificates; a
profile preset (:mod:`idp.saml.profiles`) fills defaults and the YAML overrides them. Every
error names the file, the key path and the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from idp.config.reader import Collector, Node, is_loopback, load_yaml, optional
from idp.config.saml_model import (
    ENCRYPTION_ALGORITHMS,
    NAME_ID_SOURCES,
    URL_PATTERN,
    AttributeRelease,
    Endpoint,
    NameIdRule,
    ServiceProvider,
)
from idp.errors import ConfigError, IdpError
from idp.saml import constants as c
from idp.saml.attributes import check_source
from idp.saml.profiles import PRESETS, PROFILES, AttributePreset
from idp.saml.sp_metadata import MetadataEndpoint, SpMetadata, parse_sp_metadata

_SP_KEYS = (
    "protocol",
    "name",
    "display_name",
    "profile",
    "entity_id",
    "metadata",
    "acs",
    "slo",
    "signing_certs",
    "want_authn_requests_signed",
    "sign_response",
    "sign_assertion",
    "encryption",
    "signature_algorithm",
    "digest_algorithm",
    "audience",
    "name_id",
    "attributes",
    "allow_idp_initiated",
    "default_relay_state",
    "policy",
    "relay_state_max_bytes",
    "session_lifetime_minutes",
    "allow_http",
)


def load_service_provider(path: Path) -> ServiceProvider:
    return parse_service_provider(load_yaml(path))


def load_service_providers(
    directory: Path, *, policies: Collection[str] | None = None
) -> dict[str, ServiceProvider]:
    """Every ``*.yaml`` / ``*.yml`` with ``protocol: saml`` in ``directory``, by entity id.

    Files of other protocols are refused by name (WS-Fed relying parties and OIDC clients have
    their own files), and so is a file without ``protocol``: no file is silently ignored.
    Every broken file is reported, not only the first.
    """
    result: dict[str, ServiceProvider] = {}
    if not directory.is_dir():
        return result
    found = Collector()
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in paths:
        sp = found.attempt(partial(_load_one, path, policies), None)
        if sp is None:
            continue
        if sp.entity_id in result:
            found.errors.append(
                ConfigError(
                    str(path), "entity_id", f"{sp.entity_id} is already used by "
                    f"{result[sp.entity_id].name}"
                )
            )  # fmt: skip
            continue
        result[sp.entity_id] = sp
    found.check()
    return result


def _load_one(path: Path, policies: Collection[str] | None) -> ServiceProvider:
    node = load_yaml(path)
    protocol = node.child("protocol")
    if protocol.as_str() != "saml":
        raise protocol.error(
            f"{protocol.value!r}: only SAML service providers live in relying_parties_dir "
            "(WS-Fed relying parties go under wsfed:, OIDC clients in oidc.clients_file)"
        )
    sp = parse_service_provider(node)
    if policies is not None and sp.policy is not None and sp.policy not in policies:
        # A typo here would otherwise surface as a failed sign-in, not at start.
        raise node.child("policy").error(
            f"no policy named {sp.policy!r}; defined: {', '.join(sorted(policies))}"
        )
    return sp


def parse_service_provider(node: Node) -> ServiceProvider:
    node.only_keys(*_SP_KEYS)
    optional(node.get("protocol"), lambda n: n.as_choice(("saml",)))
    base = Path(node.source).parent
    profile = optional(node.get("profile"), lambda n: n.as_choice(PROFILES), "generic")
    preset = PRESETS[profile]
    meta = optional(node.get("metadata"), lambda n: _metadata(n, base))
    entity_id = optional(node.get("entity_id"), Node.as_str, meta.entity_id if meta else None)
    if entity_id is None:
        raise node._at("entity_id").error("is required unless metadata gives it")
    acs = optional(node.get("acs"), _acs_list, _from_meta(meta.acs) if meta else ())
    if not acs:
        raise node._at("acs").error("at least one HTTP-POST AssertionConsumerService is required")
    slo = optional(node.get("slo"), _slo_list, _from_meta(meta.slo) if meta else ())
    if not optional(node.get("allow_http"), Node.as_bool, False):
        _refuse_plain_http(node, [e.url for e in acs] + [e.url for e in slo])
    no_certs: tuple[bytes, ...] = ()
    certs = optional(node.get("signing_certs"), lambda n: _cert_list(n, base), no_certs)
    certs = certs or (meta.signing_certs if meta else no_certs)
    want_signed = optional(
        node.get("want_authn_requests_signed"),
        Node.as_bool,
        meta.authn_requests_signed if meta else preset.want_authn_requests_signed,
    )
    if want_signed and not certs:
        raise node._at("signing_certs").error("signed requests are required but no cert given")
    sig = optional(
        node.get("signature_algorithm"),
        lambda n: n.as_choice(("sha256", "sha384", "sha512", "sha1")),
        "sha256",
    )
    digest = optional(
        node.get("digest_algorithm"),
        lambda n: n.as_choice(("sha256", "sha384", "sha512", "sha1")),
        "sha256",
    )
    enc_cert, enc_alg = _encryption(node.get("encryption"), base, meta)
    sign_response = optional(node.get("sign_response"), Node.as_bool, preset.sign_response)
    sign_assertion = optional(node.get("sign_assertion"), Node.as_bool, preset.sign_assertion)
    if not (sign_response or sign_assertion):
        # An unsigned bearer assertion can be forged by anyone who can reach the SP's ACS.
        raise node._at("sign_assertion").error(
            "the response or the assertion must be signed; both are switched off"
        )
    lifetime = optional(
        node.get("session_lifetime_minutes"),
        lambda n: n.as_int(min_value=1, max_value=7 * 24 * 60),
        480,
    )
    return ServiceProvider(
        name=node.child("name").as_str(pattern=r"[A-Za-z0-9_.-]+"),
        display_name=optional(node.get("display_name"), lambda n: n.as_str(max_len=100)),
        entity_id=entity_id,
        profile=profile,
        acs=acs,
        slo=slo,
        signing_certs=certs,
        want_authn_requests_signed=want_signed,
        sign_response=sign_response,
        sign_assertion=sign_assertion,
        name_id=optional(
            node.get("name_id"), _name_id, NameIdRule(preset.name_id_format, preset.name_id_source)
        ),
        attributes=optional(
            node.get("attributes"), _attributes, tuple(_release(p) for p in preset.attributes)
        ),
        encrypt_assertion=enc_cert is not None,
        encryption_cert=enc_cert,
        encryption_algorithm=enc_alg,
        signature_algorithm=sig,
        digest_algorithm=digest,
        audience=optional(node.get("audience"), Node.as_str, preset.audience),
        allow_idp_initiated=optional(
            node.get("allow_idp_initiated"), Node.as_bool, preset.allow_idp_initiated
        ),
        default_relay_state=optional(node.get("default_relay_state"), Node.as_str),
        policy=optional(node.get("policy"), Node.as_str),
        relay_state_max_bytes=optional(
            node.get("relay_state_max_bytes"),
            lambda n: n.as_int(min_value=80, max_value=8192),
            1024,
        ),
        session_lifetime=dt.timedelta(minutes=lifetime),
    )


def _refuse_plain_http(node: Node, urls: list[str]) -> None:
    for url in urls:
        if urlsplit(url).scheme == "http" and not is_loopback(urlsplit(url).hostname or ""):
            # Assertions are bearer tokens: over plain http anyone on the path can replay them.
            raise node.error(
                f"endpoint {url} is plain http on a host that is not localhost; use https, or "
                "set allow_http: true for this SP if it really is on a trusted network"
            )


def _metadata(node: Node, base: Path) -> SpMetadata:
    path = node.as_path(base)
    try:
        return parse_sp_metadata(path.read_bytes())
    except OSError as exc:
        raise node.error(f"cannot read {path}: {exc.strerror}") from None
    except IdpError as exc:
        raise node.error(f"{path}: {exc.description}") from None


def _from_meta(endpoints: tuple[MetadataEndpoint, ...]) -> tuple[Endpoint, ...]:
    return tuple(
        Endpoint(e.binding, e.url, e.index, e.is_default, e.response_url) for e in endpoints
    )


def _acs_list(node: Node) -> tuple[Endpoint, ...]:
    result = []
    for i, item in enumerate(node.elements()):
        item.only_keys("url", "binding", "index", "default")
        binding = optional(item.get("binding"), lambda n: n.as_choice(("post",)), "post")
        result.append(
            Endpoint(
                binding=c.BINDINGS[binding],
                url=item.child("url").as_str(pattern=URL_PATTERN),
                index=optional(
                    item.get("index"), lambda n: n.as_int(min_value=0, max_value=65535), i
                ),
                is_default=optional(item.get("default"), Node.as_bool, False),
            )
        )
    return tuple(result)


def _slo_list(node: Node) -> tuple[Endpoint, ...]:
    result = []
    for item in node.elements():
        item.only_keys("url", "binding", "response_url")
        result.append(
            Endpoint(
                binding=c.BINDINGS[item.child("binding").as_choice(("redirect", "post"))],
                url=item.child("url").as_str(pattern=URL_PATTERN),
                response_url=optional(
                    item.get("response_url"), lambda n: n.as_str(pattern=URL_PATTERN)
                ),
            )
        )
    return tuple(result)


def _cert_list(node: Node, base: Path) -> tuple[bytes, ...]:
    return tuple(_read_cert(n, base) for n in node.elements())


def _read_cert(node: Node, base: Path) -> bytes:
    path = node.as_path(base)
    try:
        pem = path.read_bytes()
        x509.load_pem_x509_certificate(pem)
    except OSError as exc:
        raise node.error(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise node.error(f"{path} is not a PEM certificate") from None
    return pem


def _encryption(node: Node | None, base: Path, meta: SpMetadata | None) -> tuple[bytes | None, str]:
    if node is None:
        return None, "aes256-gcm"
    node.only_keys("cert", "algorithm")
    cert = optional(
        node.get("cert"), lambda n: _read_cert(n, base), meta.encryption_cert if meta else None
    )
    if cert is None:
        raise node._at("cert").error("encryption needs the SP's encryption certificate")
    algorithm = optional(
        node.get("algorithm"), lambda n: n.as_choice(ENCRYPTION_ALGORITHMS), "aes256-gcm"
    )
    return cert, algorithm


def _name_id(node: Node) -> NameIdRule:
    node.only_keys("format", "source", "external_id")
    fmt = node.child("format").as_str()
    fmt = c.NAMEID_FORMATS.get(fmt, fmt)
    if fmt not in c.NAMEID_FORMATS.values():
        raise node._at("format").error(f"expected one of {', '.join(c.NAMEID_FORMATS)}")
    source = node.child("source").as_choice(NAME_ID_SOURCES)
    external = optional(node.get("external_id"), Node.as_str)
    if source == "external_id" and external is None:
        raise node._at("external_id").error("is required when source is external_id")
    if (fmt == c.NAMEID_TRANSIENT) != (source == "transient"):
        raise node._at("source").error("the transient format goes with the transient source")
    return NameIdRule(fmt, source, external)


def _attributes(node: Node) -> tuple[AttributeRelease, ...]:
    result = []
    for item in node.elements():
        item.only_keys("source", "name", "name_format", "required")
        source_node = item.child("source")
        source = source_node.as_str()
        source_node.convert(check_source)
        fmt = optional(
            item.get("name_format"), lambda n: n.as_choice(tuple(c.ATTRNAME_FORMATS)), "basic"
        )
        result.append(
            AttributeRelease(
                source=source,
                name=item.child("name").as_str(),
                name_format=c.ATTRNAME_FORMATS[fmt],
                required=optional(item.get("required"), Node.as_bool, False),
            )
        )
    return tuple(result)


def _release(preset: AttributePreset) -> AttributeRelease:
    return AttributeRelease(preset.source, preset.name, preset.name_format, preset.required)
