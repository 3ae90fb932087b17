"""The Metadata Query Protocol (draft-young-md-query, draft-young-md-query-saml), sans-IO.

A client asks ``GET {base}/entities/{percent-encoded entity id}`` with
``Accept: application/samlmetadata+xml`` and gets one signed ``EntityDescriptor`` (or an
``EntitiesDescriptor`` holding it); 404 means the server knows no such entity. The answer is
verified exactly like an aggregate (:func:`idp.saml.federation.verify_metadata`) and cached
until the earliest of its ``validUntil``, its ``cacheDuration`` and our own limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

from idp.config.saml_model import MetadataFilter
from idp.saml.federation import FederatedEntity, MetadataRejected, verify_metadata

MEDIA_TYPE = "application/samlmetadata+xml"


def entity_url(base_url: str, entity_id: str) -> str:
    """The query URL for one entity id (draft-young-md-query §3.2: every reserved character,
    ``/`` and ``:`` included, is percent-encoded)."""
    return f"{base_url.rstrip('/')}/entities/{quote(entity_id, safe='')}"


@dataclass(frozen=True)
class MdqAnswer:
    """``entity`` is None when the server's answer holds no SP the filter selects."""

    entity: FederatedEntity | None
    expires_at: dt.datetime


def read_answer(
    *,
    xml: bytes,
    expected_entity_id: str,
    expected_signing_certs: tuple[bytes, ...],
    now: dt.datetime,
    max_bytes: int,
    max_cache: dt.timedelta,
    require_valid_until: bool,
    selection: MetadataFilter,
    what: str,
) -> MdqAnswer:
    verified = verify_metadata(
        xml=xml,
        expected_signing_certs=expected_signing_certs,
        now=now,
        max_bytes=max_bytes,
        require_valid_until=require_valid_until,
        selection=selection,
        what=what,
    )
    for skipped in verified.skipped:
        if skipped.entity_id == expected_entity_id:
            raise MetadataRejected(f"{what}: {skipped.reason}")
    others = [e.entity_id for e in verified.entities if e.entity_id != expected_entity_id]
    if others:
        # A server (or whoever sits in front of it) answering for another entity must not
        # make us attach that entity's endpoints to the one that was asked for.
        raise MetadataRejected(
            f"{what}: asked for {expected_entity_id!r}, the answer describes {others[0]!r}"
        )
    expires_at = now + max_cache
    if verified.cache_duration is not None:
        expires_at = min(expires_at, now + verified.cache_duration)
    if verified.valid_until is not None:
        expires_at = min(expires_at, verified.valid_until)
    entity = verified.entities[0] if verified.entities else None
    if entity is not None and entity.valid_until is not None:
        expires_at = min(expires_at, entity.valid_until)
    return MdqAnswer(entity=entity, expires_at=expires_at)
