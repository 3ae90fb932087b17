"""The ``directory:`` section of ``idp.yaml``: where employees are imported from.

Parsed once at start into frozen settings; every error names the file, the key path and the
reason. Each source is ``kind: ldap`` (Active Directory, or a generic LDAP server) or
``kind: entra`` (Entra ID through Microsoft Graph). Secrets come from ``{env: NAME}`` or
``{file: PATH}``, or ``{stored: true}``: saved encrypted in the database with
``hideez-idp sync secret`` (the envelope of :mod:`idp.secrets`). Without the section nothing is
synchronised. See docs/directory.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from idp.config.reader import Node, is_loopback, optional, secret_from

SOURCE_NAME = r"[a-z][a-z0-9_-]{0,31}"
LEAVE_SCOPE = ("keep", "deactivate", "delete")
DEFAULT_SCOPE_GROUP = "Hideez Users Sync"
DEFAULT_INTERVAL = 3600
_ATTRIBUTE = r"[A-Za-z][A-Za-z0-9-]{0,63}"
_DOMAIN = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+"
_GUID = r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
MAX_FILTER = 2048

_COMMON_KEYS = (
    "name",
    "kind",
    "scope_group",
    "on_leave_scope",
    "email_domains",
    "mapping",
    "rotation_group",
    "rotation_max_age_days",
    "ca_file",
    "timeout_seconds",
)
_LDAP_KEYS = (
    *_COMMON_KEYS,
    "url",
    "flavour",
    "bind_user",
    "bind_password",
    "base_dn",
    "filter",
    "page_size",
    "verify_certificate",
)
_ENTRA_KEYS = (
    *_COMMON_KEYS,
    "tenant_id",
    "client_id",
    "client_secret",
    "authority",
    "graph_url",
    "max_retry_wait_seconds",
)

#: our field → the directory attribute it is read from, per flavour
AD_MAPPING = {
    "username": "sAMAccountName",
    "email": "mail",
    "first_name": "givenName",
    "last_name": "sn",
    "phone": "telephoneNumber",
    "company": "company",
    "department": "department",
    "position": "title",
}
GENERIC_MAPPING = {
    "username": "uid",
    "email": "mail",
    "first_name": "givenName",
    "last_name": "sn",
    "phone": "telephoneNumber",
    "company": "o",
    "department": "ou",
    "position": "title",
}
ENTRA_MAPPING = {
    "username": "userPrincipalName",
    "email": "mail",
    "first_name": "givenName",
    "last_name": "surname",
    "phone": "mobilePhone",
    "company": "companyName",
    "department": "department",
    "position": "jobTitle",
}
_REQUIRED_FIELDS = ("username", "email")


@dataclass(frozen=True)
class CommonSource:
    name: str
    #: our field → directory attribute (a field left out is not imported nor owned)
    mapping: Mapping[str, str]
    scope_group: str | None = DEFAULT_SCOPE_GROUP
    on_leave_scope: str = "deactivate"
    #: e-mail domains that name the same people (alice@corp.example is alice@example.com)
    email_domains: tuple[str, ...] = ()
    rotation_group: str | None = None
    rotation_max_age_days: int = 90
    ca_file: Path | None = None
    timeout_seconds: int = 15

    @property
    def owned_fields(self) -> frozenset[str]:
        return frozenset(self.mapping)


@dataclass(frozen=True)
class LdapSource(CommonSource):
    url: str = ""
    flavour: str = "ad"  # "ad" | "generic"
    bind_user: str = ""
    #: None: stored encrypted in the database (``hideez-idp sync secret``)
    bind_password: str | None = None
    base_dn: str = ""
    filter: str | None = None
    page_size: int = 500
    verify_certificate: bool = True

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 636


@dataclass(frozen=True)
class EntraSource(CommonSource):
    tenant_id: str = ""
    client_id: str = ""
    client_secret: str | None = None
    authority: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    max_retry_wait_seconds: int = 120


Source = LdapSource | EntraSource


@dataclass(frozen=True)
class PasswordCheckSettings:
    """Limits of checking a password typed at a workstation (idp.directory.password_check)."""

    #: wrong passwords per employee within ``window_minutes`` before checks stop (429); never
    #: more than the domain's lockoutThreshold − 1
    max_failures: int = 3
    #: the counting window (never shorter than the domain's lockoutObservationWindow)
    window_minutes: int = 30


@dataclass(frozen=True)
class DirectorySettings:
    sources: tuple[Source, ...] = ()
    interval_seconds: int = DEFAULT_INTERVAL
    by_name: Mapping[str, Source] = field(default_factory=dict)
    password_check: PasswordCheckSettings = PasswordCheckSettings()

    def source(self, name: str) -> Source | None:
        return self.by_name.get(name)


def parse_directory(node: Node, env: Mapping[str, str], base: Path) -> DirectorySettings:
    node.only_keys("sources", "interval_seconds", "password_check")
    sources = tuple(_source(n, env, base) for n in node.child("sources").elements())
    seen: set[str] = set()
    for i, source in enumerate(sources):
        if source.name in seen:
            raise (
                node.child("sources")
                .elements()[i]
                .child("name")
                .error(f"source name {source.name!r} is used twice")
            )
        seen.add(source.name)
    interval = optional(
        node.get("interval_seconds"),
        lambda n: n.as_int(min_value=60, max_value=86_400),
        DEFAULT_INTERVAL,
    )
    check = optional(node.get("password_check"), _password_check, PasswordCheckSettings())
    return DirectorySettings(sources, interval, {s.name: s for s in sources}, check)


def _password_check(node: Node) -> PasswordCheckSettings:
    node.only_keys("max_failures", "window_minutes")
    return PasswordCheckSettings(
        max_failures=optional(
            node.get("max_failures"), lambda n: n.as_int(min_value=1, max_value=20), 3
        ),
        window_minutes=optional(
            node.get("window_minutes"), lambda n: n.as_int(min_value=1, max_value=1440), 30
        ),
    )


def _source(node: Node, env: Mapping[str, str], base: Path) -> Source:
    kind = node.child("kind").as_choice(("ldap", "entra"))
    node.only_keys(*(_LDAP_KEYS if kind == "ldap" else _ENTRA_KEYS))
    if kind == "ldap":
        return _ldap(node, env, base)
    return _entra(node, env, base)


def _common(node: Node, base: Path, defaults: Mapping[str, str]) -> dict[str, object]:
    scope = node.get("scope_group")
    return {
        "name": node.child("name").as_str(pattern=SOURCE_NAME),
        "mapping": _mapping(node.get("mapping"), defaults),
        # ``scope_group: ""`` is refused by as_str; ``scope_group: null`` (no scoping group)
        # reads as absent, so "none" is said explicitly.
        "scope_group": DEFAULT_SCOPE_GROUP if scope is None else _scope(scope),
        "on_leave_scope": optional(
            node.get("on_leave_scope"), lambda n: n.as_choice(LEAVE_SCOPE), "deactivate"
        ),
        "email_domains": optional(
            node.get("email_domains"),
            lambda n: tuple(d.lower() for d in n.as_str_list(pattern=_DOMAIN)),
            (),
        ),
        "rotation_group": optional(node.get("rotation_group"), lambda n: n.as_str(max_len=256)),
        "rotation_max_age_days": optional(
            node.get("rotation_max_age_days"), lambda n: n.as_int(min_value=1, max_value=3650), 90
        ),
        "ca_file": optional(node.get("ca_file"), lambda n: _existing_file(n, base)),
        "timeout_seconds": optional(
            node.get("timeout_seconds"), lambda n: n.as_int(min_value=1, max_value=300), 15
        ),
    }


def _scope(node: Node) -> str | None:
    value = node.as_str(max_len=256)
    return None if value == "none" else value


def _mapping(node: Node | None, defaults: Mapping[str, str]) -> Mapping[str, str]:
    if node is None:
        return dict(defaults)
    node.only_keys(*defaults)
    mapping = dict(defaults)
    for name, child in node.items():
        if child.value is None or child.value is False:
            if name in _REQUIRED_FIELDS:
                raise child.error(f"{name} must be mapped to an attribute")
            mapping.pop(name)  # ``phone: null``: not imported, stays editable here
        else:
            mapping[name] = child.as_str(pattern=_ATTRIBUTE)
    return mapping


def _existing_file(node: Node, base: Path) -> Path:
    path = node.as_path(base)
    if not path.is_file():
        raise node.error(f"file {path} does not exist")
    return path


def _secret(node: Node, env: Mapping[str, str]) -> str | None:
    if isinstance(node.value, dict) and "stored" in node.value:
        node.only_keys("stored")
        if node.child("stored").as_bool() is not True:
            raise node.child("stored").error("only 'stored: true' is meaningful")
        return None
    return secret_from(node, env=env)


def _ldap(node: Node, env: Mapping[str, str], base: Path) -> LdapSource:
    flavour = optional(node.get("flavour"), lambda n: n.as_choice(("ad", "generic")), "ad")
    common = _common(node, base, AD_MAPPING if flavour == "ad" else GENERIC_MAPPING)
    url_node = node.child("url")
    parts = urlsplit(url_node.as_str(max_len=512))
    if parts.scheme != "ldaps" or not parts.hostname or parts.path not in ("", "/"):
        raise url_node.error(
            "expected ldaps://host[:port] (binds and password writes need TLS), "
            f"got {url_node.value!r}"
        )
    verify = optional(node.get("verify_certificate"), Node.as_bool, True)
    if not verify and not is_loopback(parts.hostname):
        raise node.child("verify_certificate").error(
            "certificate validation may only be off for a loopback test directory"
        )
    return LdapSource(
        **common,  # type: ignore[arg-type]
        url=f"ldaps://{parts.netloc}",
        flavour=flavour,
        bind_user=node.child("bind_user").as_str(max_len=512),
        bind_password=_secret(node.child("bind_password"), env),
        base_dn=node.child("base_dn").as_str(max_len=1024),
        filter=optional(node.get("filter"), _filter),
        page_size=optional(
            node.get("page_size"), lambda n: n.as_int(min_value=1, max_value=5000), 500
        ),
        verify_certificate=verify,
    )


def _filter(node: Node) -> str:
    value = node.as_str(max_len=MAX_FILTER).strip()
    depth = 0
    for char in value:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if not (value.startswith("(") and value.endswith(")")) or depth != 0:
        raise node.error(
            f"expected an LDAP filter in parentheses, e.g. (department=Sales), got {value!r}"
        )
    return value


def _entra(node: Node, env: Mapping[str, str], base: Path) -> EntraSource:
    common = _common(node, base, ENTRA_MAPPING)
    authority = optional(node.get("authority"), _https_url, "https://login.microsoftonline.com")
    graph = optional(node.get("graph_url"), _https_url, "https://graph.microsoft.com/v1.0")
    return EntraSource(
        **common,  # type: ignore[arg-type]
        tenant_id=node.child("tenant_id").as_str(pattern=_GUID).lower(),
        client_id=node.child("client_id").as_str(pattern=_GUID).lower(),
        client_secret=_secret(node.child("client_secret"), env),
        authority=authority,
        graph_url=graph,
        max_retry_wait_seconds=optional(
            node.get("max_retry_wait_seconds"), lambda n: n.as_int(min_value=0, max_value=3600), 120
        ),
    )


def _https_url(node: Node) -> str:
    value = node.as_str(max_len=512).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or re.search(r"[?#]", value):
        raise node.error(f"expected an https:// URL without query, got {node.value!r}")
    return value
