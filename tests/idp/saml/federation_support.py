"""Federation metadata for tests: SP entities, aggregates signed with python-xmlsec (not our
own signer, so a bug there cannot hide one in the verifier), and a real HTTP server on
loopback that serves aggregates and answers MDQ queries."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import quoteattr

import xmlsec
from lxml import etree

from idp.keys import SigningKey
from idp.saml.federation import ENTITY_CATEGORY

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NSDECL = (
    f'xmlns:md="{MD}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
    'xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" '
    'xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" '
    'xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
)
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
RESEARCH = "http://refeds.org/category/research-and-scholarship"
FED_A = "https://federation-a.example.org"
FED_B = "https://federation-b.example.org"


def instant(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sp_entity(
    entity_id: str,
    *,
    acs: str | None = None,
    authority: str | None = None,
    categories: Iterable[str] = (),
    display_name: str | None = None,
    cert: SigningKey | None = None,
    valid_until: dt.datetime | None = None,
    authn_requests_signed: bool = False,
) -> str:
    """One SP EntityDescriptor (no namespace declarations: the aggregate carries them)."""
    ext = ""
    if authority is not None or categories:
        reg = f'<mdrpi:RegistrationInfo registrationAuthority="{authority}"/>' if authority else ""
        attr = ""
        if categories:
            values = "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in categories)
            attr = (
                f'<mdattr:EntityAttributes><saml:Attribute Name="{ENTITY_CATEGORY}">{values}'
                "</saml:Attribute></mdattr:EntityAttributes>"
            )
        ext = f"<md:Extensions>{reg}{attr}</md:Extensions>"
    sp_ext = ""
    if display_name is not None:
        sp_ext = (
            '<md:Extensions><mdui:UIInfo><mdui:DisplayName xml:lang="en">'
            f"{display_name}</mdui:DisplayName></mdui:UIInfo></md:Extensions>"
        )
    key = ""
    if cert is not None:
        key = (
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{cert.cert_der_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
            "</md:KeyDescriptor>"
        )
    until = f' validUntil="{instant(valid_until)}"' if valid_until else ""
    signed = ' AuthnRequestsSigned="true"' if authn_requests_signed else ""
    acs_url = acs or f"{entity_id.rstrip('/')}/acs"
    return (
        f"<md:EntityDescriptor entityID={quoteattr(entity_id)}{until}>{ext}"
        f'<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"'
        f"{signed}>{sp_ext}{key}"
        f'<md:AssertionConsumerService Binding="{POST}" Location={quoteattr(acs_url)} index="0"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )


def idp_entity(entity_id: str) -> str:
    return (
        f'<md:EntityDescriptor entityID="{entity_id}"><md:IDPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:SingleSignOnService Binding="{POST}" Location="{entity_id}/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def aggregate(
    entities: Iterable[str],
    *,
    valid_until: dt.datetime | None,
    cache_duration: str | None = None,
    authority: str | None = None,
    root_id: str = "_agg1",
) -> bytes:
    until = f' validUntil="{instant(valid_until)}"' if valid_until else ""
    cache = f' cacheDuration="{cache_duration}"' if cache_duration else ""
    ext = ""
    if authority is not None:
        ext = (
            f'<md:Extensions><mdrpi:RegistrationInfo registrationAuthority="{authority}"/>'
            "</md:Extensions>"
        )
    return (
        f'<md:EntitiesDescriptor {NSDECL} ID="{root_id}" Name="urn:test"{until}{cache}>'
        f"{ext}{''.join(entities)}</md:EntitiesDescriptor>"
    ).encode()


def single(entity: str, *, valid_until: dt.datetime | None, root_id: str = "_one") -> bytes:
    """An MDQ answer: one EntityDescriptor as the document root."""
    with_ns = entity.replace(
        "<md:EntityDescriptor ", f'<md:EntityDescriptor {NSDECL} ID="{root_id}" ', 1
    )
    if valid_until is not None:
        with_ns = with_ns.replace(" ID=", f' validUntil="{instant(valid_until)}" ID=', 1)
    return with_ns.encode()


def sign(xml: bytes, key: SigningKey, *, reference: str | None = None) -> bytes:
    """Enveloped RSA-SHA256 signature as the root's first child (after md:Extensions would be
    schema-correct too; the verifier does not care where among the children it sits)."""
    root = etree.fromstring(xml)
    ref_id = root.get("ID")
    signature = xmlsec.template.create(
        root, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256, ns="ds"
    )
    root.insert(0, signature)
    uri = reference if reference is not None else f"#{ref_id}"
    ref = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha256, uri=uri)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    xmlsec.tree.add_ids(root, ["ID"])
    ctx = xmlsec.SignatureContext()
    xkey = xmlsec.Key.from_memory(key.key_pem, xmlsec.constants.KeyDataFormatPem)
    xkey.load_cert_from_memory(key.cert_pem, xmlsec.constants.KeyDataFormatPem)
    ctx.key = xkey
    ctx.sign(signature)
    return etree.tostring(root)


@dataclass
class MetadataServer:
    """A real HTTP server on 127.0.0.1: ``routes`` maps a path to (status, body); every
    request's path is recorded in ``requests``. Routes may be changed while it runs."""

    base_url: str = ""
    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, path: str, body: bytes, status: int = 200) -> None:
        with self.lock:
            self.routes[path] = (status, body)

    def count(self, path: str) -> int:
        with self.lock:
            return self.requests.count(path)


@contextmanager
def metadata_server() -> Iterator[MetadataServer]:
    state = MetadataServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests.append(self.path)
                state.headers.append(dict(self.headers.items()))
                status, body = state.routes.get(self.path, (404, b"not found"))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", body.decode())
                body = b""
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
