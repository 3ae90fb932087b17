"""Reading Active Directory (or a generic LDAP server) with ldap3, page by page.

Always LDAPS, with the server certificate validated against the system CAs or ``ca_file``
(off only for a loopback test directory). Every value that goes into a filter is escaped
(RFC 4515 §3): group DNs and names from the configuration, usernames and e-mail addresses
from the store. The paged-results control (RFC 2696) keeps each answer at ``page_size``
entries whatever the directory's own limit, and its cookie is only good on the connection
that made it, so a dropped connection restarts the pass (the engine skips what it already
applied).

AD incremental sync follows "Polling for changes using the USNChanged attribute"
(MS-ADTS §3.1.1.1.9 and the DirSync notes): remember ``highestCommittedUSN`` and the DC's
``invocationId`` from the rootDSE/NTDS settings; next time ask for ``uSNChanged >= high + 1``;
a different ``invocationId`` (another DC, or this one restored) means the numbers are not
comparable and a full pass follows.
"""

from __future__ import annotations

import ssl
import struct
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars

from idp.config.directory import LdapSource
from idp.directory.sync.records import (
    DirectoryRefused,
    DirectoryUnavailable,
    DirectoryUser,
)

ACCOUNTDISABLE = 0x2
#: LDAP_SERVER_SHOW_DELETED_OID (MS-ADTS §3.1.1.3.4.1.14): tombstones become visible
SHOW_DELETED = "1.2.840.113556.1.4.417"
AD_USERS = "(&(objectCategory=person)(objectClass=user))"
GENERIC_USERS = "(|(objectClass=inetOrgPerson)(objectClass=person))"


@dataclass(frozen=True)
class Watermark:
    """Where an AD pass ended: compare the next pass's ``invocation_id`` before trusting it."""

    invocation_id: str
    highest_usn: int


def connection_errors() -> tuple[type[BaseException], ...]:
    return (
        ldap_errors.LDAPCommunicationError,
        ldap_errors.LDAPSocketOpenError,
        ldap_errors.LDAPSessionTerminatedByServerError,
        ldap_errors.LDAPSocketReceiveError,
        ldap_errors.LDAPSocketSendError,
        ldap_errors.LDAPStartTLSError,
        OSError,
    )


def guid_text(raw: bytes) -> str:
    """objectGUID is stored little-endian in its first three fields (MS-DTYP §2.3.4.2)."""
    return str(uuid.UUID(bytes_le=raw))


def guid_filter_value(guid: str) -> str:
    return "".join(f"\\{b:02x}" for b in uuid.UUID(guid).bytes_le)


def sid_text(raw: bytes) -> str:
    """MS-DTYP §2.4.2.2: revision, count, 48-bit big-endian authority, little-endian subs."""
    if len(raw) < 8 or len(raw) != 8 + 4 * raw[1]:
        raise DirectoryRefused(f"objectSid of {len(raw)} bytes is malformed")
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{raw[1]}I", raw[8:])
    return "-".join(["S", str(raw[0]), str(authority), *map(str, subs)])


def first_rdn_value(dn: str) -> str:
    """``CN=Sales\\, EMEA,OU=…`` → ``Sales, EMEA`` (RFC 4514 escapes undone)."""
    if "\\" not in dn:
        return dn.split(",", 1)[0].partition("=")[2]
    return str(ldap3.utils.dn.parse_dn(dn, escape=False)[0][1])


class LdapDirectory:
    """One source's directory. Each method opens what it needs; nothing is kept between runs."""

    def __init__(self, settings: LdapSource, *, password: str) -> None:
        self.settings = settings
        self._password = password
        self._conn: ldap3.Connection | None = None

    # -- connection -------------------------------------------------------------------------
    def _server(self) -> ldap3.Server:
        s = self.settings
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if s.verify_certificate else ssl.CERT_NONE,
            ca_certs_file=str(s.ca_file) if s.ca_file else None,
            version=ssl.PROTOCOL_TLS_CLIENT,
        )
        return ldap3.Server(
            s.host,
            port=s.port,
            use_ssl=True,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=s.timeout_seconds,
        )

    def bind(self, user: str, password: str) -> ldap3.Connection:
        """A connection bound as ``user`` (an employee for a password change)."""
        try:
            conn = ldap3.Connection(
                self._server(),
                user=user,
                password=password,
                receive_timeout=self.settings.timeout_seconds,
                raise_exceptions=False,
                read_only=False,
            )
            conn.open()
            if not conn.bind():
                raise DirectoryRefused(describe_bind_failure(conn.result))
            return conn
        except connection_errors() as exc:
            raise DirectoryUnavailable(
                f"cannot reach {self.settings.url}: {type(exc).__name__}: {exc}"
            ) from None

    @property
    def conn(self) -> ldap3.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.bind(self.settings.bind_user, self._password)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.unbind()
            self._conn = None

    def _search(
        self,
        base: str,
        query: str,
        attributes: list[str],
        *,
        scope: str = ldap3.SUBTREE,
        controls: list[tuple[str, bool, bytes | None]] | None = None,
        paged_cookie: bytes | None = None,
        page: int | None = None,
    ) -> list[dict[str, object]]:
        try:
            ok = self.conn.search(
                base,
                query,
                search_scope=scope,
                attributes=attributes,
                paged_size=page,
                paged_cookie=paged_cookie,
                controls=controls,
            )
        except connection_errors() as exc:
            self._conn = None
            raise DirectoryUnavailable(
                f"the connection to {self.settings.url} dropped: {type(exc).__name__}"
            ) from None
        result = self.conn.result
        if not ok and result.get("description") not in ("success", "noSuchObject"):
            raise DirectoryRefused(
                f"search under {base!r} failed: "
                f"{result.get('description')}: {result.get('message')}"
            )
        return [e for e in self.conn.response or () if e.get("type") == "searchResEntry"]

    # -- what the engine asks ---------------------------------------------------------------
    def watermark(self) -> Watermark:
        """The DC's invocationId and highestCommittedUSN (read before a pass starts)."""
        root = self._search(
            "", "(objectClass=*)", ["dsServiceName", "highestCommittedUSN"], scope=ldap3.BASE
        )
        if not root:
            raise DirectoryRefused("the rootDSE is not readable")
        attrs = root[0]["raw_attributes"]
        assert isinstance(attrs, Mapping)
        service = _text(attrs, "dsServiceName")
        usn = _text(attrs, "highestCommittedUSN")
        ntds = self._search(service or "", "(objectClass=*)", ["invocationId"], scope=ldap3.BASE)
        if not service or not usn or not ntds:
            raise DirectoryRefused("the DC did not say its invocationId and highestCommittedUSN")
        raw = ntds[0]["raw_attributes"]
        assert isinstance(raw, Mapping)
        invocation = raw.get("invocationId") or [b""]
        return Watermark(guid_text(invocation[0]), int(usn))

    def group_dn(self, name: str) -> str | None:
        """The DN of the group called ``name`` (CN or sAMAccountName), escaped into the filter."""
        value = escape_filter_chars(name)
        query = f"(&(objectClass=group)(|(cn={value})(sAMAccountName={value})))"
        if self.settings.flavour == "generic":
            query = f"(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))(cn={value}))"
        found = self._search(self.settings.base_dn, query, ["cn"])
        return str(found[0]["dn"]) if found else None

    def user_filter(self, scope_group_dn: str | None) -> str:
        parts = [AD_USERS if self.settings.flavour == "ad" else GENERIC_USERS]
        if scope_group_dn is not None:
            parts.append(f"(memberOf={escape_filter_chars(scope_group_dn)})")
        if self.settings.filter:
            parts.append(self.settings.filter)
        return f"(&{''.join(parts)})"

    def attributes(self) -> list[str]:
        base = ["memberOf"]
        if self.settings.flavour == "ad":
            base += ["objectGUID", "objectSid", "userPrincipalName", "userAccountControl"]
        else:
            base += ["entryUUID", "pwdAccountLockedTime"]
        return sorted(set(base) | set(self.settings.mapping.values()))

    def pages(
        self, query: str, *, attributes: list[str] | None = None
    ) -> Iterator[list[dict[str, object]]]:
        """Raw entries ``page_size`` at a time (the paged-results cookie, RFC 2696 §3)."""
        cookie: bytes | None = None
        while True:
            entries = self._search(
                self.settings.base_dn,
                query,
                attributes or self.attributes(),
                paged_cookie=cookie,
                page=self.settings.page_size,
            )
            yield entries
            control = (self.conn.result.get("controls") or {}).get("1.2.840.113556.1.4.319")
            cookie = (control or {}).get("value", {}).get("cookie") if control else None
            if not cookie:
                return

    def deleted_since(self, usn: int) -> list[str]:
        """objectGUIDs of users deleted since ``usn`` (AD tombstones, Show Deleted control)."""
        if self.settings.flavour != "ad":
            return []
        query = f"(&(isDeleted=TRUE)(objectClass=user)(uSNChanged>={usn + 1}))"
        found = self._search(
            self.settings.base_dn, query, ["objectGUID"], controls=[(SHOW_DELETED, True, None)]
        )
        return [guid_text(g) for e in found for g in _raws(e, "objectGUID")[:1]]

    def changed_keys(self, usn: int) -> set[str]:
        """Keys of every user changed since ``usn``, in scope or not (to see who left it)."""
        query = f"(&{AD_USERS}(uSNChanged>={usn + 1}))"
        keys: set[str] = set()
        for page in self.pages(query, attributes=["objectGUID"]):
            keys.update(guid_text(g) for e in page for g in _raws(e, "objectGUID")[:1])
        return keys

    def groups_changed_since(self, usn: int) -> bool:
        query = f"(&(objectClass=group)(uSNChanged>={usn + 1}))"
        return bool(self._search(self.settings.base_dn, query, ["cn"], page=1))

    def to_user(self, entry: dict[str, object]) -> DirectoryUser | None:
        """Map one raw entry; ``None`` for an entry without the required attributes."""
        raw = entry["raw_attributes"]
        assert isinstance(raw, Mapping)
        m = self.settings.mapping
        if self.settings.flavour == "ad":
            guid_raw = _first(raw, "objectGUID")
            if guid_raw is None:
                return None
            key = guid_text(guid_raw)
            uac = int(_text(raw, "userAccountControl") or 0)
            enabled = not uac & ACCOUNTDISABLE
            sid_raw = _first(raw, "objectSid")
            sid = sid_text(sid_raw) if sid_raw else None
            upn = _text(raw, "userPrincipalName")
        else:
            key = (_text(raw, "entryUUID") or "").lower()
            enabled = _first(raw, "pwdAccountLockedTime") is None
            guid_raw, sid, upn = None, None, None
            if not key:
                return None
        username, email = _text(raw, m["username"]), _text(raw, m["email"])
        if not username or not email:
            return None
        return DirectoryUser(
            key=key,
            username=username,
            email=email,
            first_name=_text(raw, m.get("first_name")) or "",
            last_name=_text(raw, m.get("last_name")) or "",
            enabled=enabled,
            phone=_text(raw, m.get("phone")),
            company=_text(raw, m.get("company")),
            department=_text(raw, m.get("department")),
            position=_text(raw, m.get("position")),
            groups=tuple(sorted(first_rdn_value(d.decode()) for d in raw.get("memberOf", ()))),
            ad_object_guid=key if guid_raw else None,
            ad_object_sid=sid,
            upn=upn,
            dn=str(entry["dn"]),
        )


def _raws(entry: dict[str, object], name: str) -> list[bytes]:
    raw = entry["raw_attributes"]
    assert isinstance(raw, Mapping)
    return list(raw.get(name) or ())


def _first(raw: Mapping[str, list[bytes]], name: str) -> bytes | None:
    values = raw.get(name)
    return values[0] if values else None


def _text(raw: Mapping[str, list[bytes]], name: str | None) -> str | None:
    if name is None:
        return None
    value = _first(raw, name)
    if value is None:
        return None
    return value.decode("utf-8", errors="replace").strip() or None


def describe_bind_failure(result: dict[str, object]) -> str:
    """AD puts the reason in the message's ``data`` field (``data 52e``: bad password …)."""
    message = str(result.get("message") or "")
    reasons = {
        "data 52e": "the user name or password is wrong",
        "data 533": "the account is disabled",
        "data 532": "the password has expired",
        "data 701": "the account has expired",
        "data 773": "the password must be changed before the account can be used",
        "data 775": "the account is locked out",
    }
    for marker, text in reasons.items():
        if marker in message:
            return f"the directory refused the sign-in: {text}"
    return f"the directory refused the sign-in: {result.get('description')}"
