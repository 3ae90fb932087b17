"""What we release to an SP: the NameID value and the attribute values, from our sources.

Attribute sources are the shared vocabulary of :mod:`idp.subject` (the same names mean the
same in WS-Fed claims), plus two of SAML's own:

- ``extra:NAME`` — values the caller passes per response (e.g. GitHub ``public_keys``);
- ``session_not_on_or_after`` — the session end as an xs:dateTime.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from idp import subject as vocabulary
from idp.saml.errors import BuildError
from idp.sessions import AuthContext
from idp.subject import Subject

if TYPE_CHECKING:
    from idp.config.saml import NameIdRule

_OWN = ("session_not_on_or_after",)
_OWN_PREFIX = "extra:"


def check_source(value: Any) -> None:
    """Raise ValueError for an attribute source we do not know (used by the config parser)."""
    if isinstance(value, str) and (
        value in _OWN or (value.startswith(_OWN_PREFIX) and len(value) > len(_OWN_PREFIX))
    ):
        return
    try:
        vocabulary.check_source(value)
    except ValueError:
        raise ValueError(
            f"unknown attribute source {value!r}; expected one of "
            f"{', '.join((*vocabulary.SOURCES, *_OWN))} or a prefix "
            f"{', '.join((*vocabulary.PREFIXES, _OWN_PREFIX))}"
        ) from None


def pairwise_id(*, salt: str, employee_id: str, sp_entity_id: str) -> str:
    """Persistent pairwise NameID: HMAC-SHA256(salt, employee id ∥ SP entity id), base64url.

    Stable per (employee, SP) and unlinkable across SPs without the salt (core §8.3.7).
    """
    message = f"{employee_id}\x00{sp_entity_id}".encode()
    digest = hmac.new(salt.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def name_id_value(*, rule: NameIdRule, subject: Subject, salt: str, sp_entity_id: str) -> str:
    if rule.source == "pairwise":
        return pairwise_id(salt=salt, employee_id=subject.id, sp_entity_id=sp_entity_id)
    if rule.source == "email":
        return subject.email
    if rule.source == "username":
        return subject.username
    if rule.source == "transient":
        return "_" + secrets.token_hex(16)
    value = subject.external_ids.get(rule.external_id or "")
    if not value:
        raise BuildError(f"employee {subject.id} has no external id {rule.external_id!r}")
    return value


def attribute_values(
    source: str,
    *,
    subject: Subject,
    context: AuthContext,
    session_not_on_or_after: dt.datetime,
    extra: Mapping[str, Sequence[str]],
) -> tuple[str, ...]:
    """The values of one source; empty when the subject has none."""
    if source == "session_not_on_or_after":
        return (instant(session_not_on_or_after),)
    if source.startswith(_OWN_PREFIX):
        values = tuple(extra.get(source[len(_OWN_PREFIX) :], ()))
    else:
        values = tuple(v for v in vocabulary.values_of(source, subject=subject, context=context))
    if vocabulary.unsafe_for_xml(values):
        raise BuildError(
            f"the {source!r} value of {subject.username!r} holds a control character that "
            "an assertion cannot carry; ask the directory administrator to fix it"
        )
    return values


def instant(moment: dt.datetime) -> str:
    """xs:dateTime in UTC without fractions, as SAML core §1.3.3 recommends."""
    if moment.tzinfo is None:
        raise BuildError("naive datetime; SAML instants must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
