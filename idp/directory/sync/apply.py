"""Applying one page of directory users inside one transaction.

For each user: an unchanged fingerprint costs nothing but a "seen" mark; a linked employee is
updated in the fields the directory owns; an unlinked user is matched to an existing employee
by directory id, then by e-mail (also across the source's equivalent ``email_domains``) and
linked, or created. A user whose username or e-mail belongs to another, unlinked employee is a
conflict: reported, nothing of it applied, retried next pass.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from idp.config.directory import CommonSource
from idp.directory.model import SsoMode
from idp.directory.sync.records import (
    Action,
    Change,
    DirectoryUser,
    EmployeeWithdrawn,
    Withdrawal,
)
from idp.directory.sync.store import (
    DirectoryLinkRow,
    OrgCache,
    employees_by,
    links_by_key,
    mark_seen,
    memberships,
    set_groups,
)
from idp.store.sql.models import Base, EmployeeGroupRow, EmployeeRow

_PLAIN = ("username", "email", "first_name", "last_name", "phone")
_IDS = ("ad_object_guid", "ad_object_sid", "entra_object_id", "entra_tenant_id")


@dataclass
class PageResult:
    read: int = 0
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    withdrawn: list[EmployeeWithdrawn] = field(default_factory=list)


@dataclass
class _Page:
    s: Session
    source: CommonSource
    run_id: str
    org: OrgCache
    now: dt.datetime
    result: PageResult
    by_username: dict[str, EmployeeRow]
    by_email: dict[str, EmployeeRow]
    linked_ids: set[str]
    claimed: set[str] = field(default_factory=set)
    #: inserted at the end in dependency order (employees, then ORM rows, then the rest)
    new_employees: list[dict[str, object]] = field(default_factory=list)
    pending: list[Base] = field(default_factory=list)
    new_links: list[dict[str, object]] = field(default_factory=list)
    new_members: list[dict[str, object]] = field(default_factory=list)


def apply_page(
    s: Session,
    users: Sequence[DirectoryUser],
    *,
    source: CommonSource,
    run_id: str,
    org: OrgCache,
    now: dt.datetime,
) -> PageResult:
    result = PageResult(read=len(users))
    unique = list({u.key: u for u in users}.values())
    org.load(s)
    links = links_by_key(s, source.name, [u.key for u in unique])
    prints = {u.key: u.fingerprint() for u in unique}
    fresh = [
        u for u in unique if (ln := links.get(u.key)) is None or ln.fingerprint != prints[u.key]
    ]
    fresh_keys = {u.key for u in fresh}
    same = [links[u.key].employee_id for u in unique if u.key not in fresh_keys]
    mark_seen(s, same, run_id)
    result.unchanged = len(same)
    if not fresh:
        return result
    page = _Page(
        s,
        source,
        run_id,
        org,
        now,
        result,
        by_username=employees_by(s, "username_lower", (u.username.lower() for u in fresh)),
        by_email=employees_by(s, "email_lower", _candidate_emails(fresh, source.email_domains)),
        linked_ids=set(),
    )
    linked_rows = employees_by(s, "id", (links[u.key].employee_id for u in fresh if u.key in links))
    page.linked_ids = set(
        _linked_among(s, [r.id for r in (*page.by_username.values(), *page.by_email.values())])
    )
    groups = memberships(s, list(linked_rows))
    with s.no_autoflush:  # rows refer to org units and employees made in this page
        for user in fresh:
            link = links.get(user.key)
            if link is not None and link.employee_id in linked_rows:
                row = linked_rows[link.employee_id]
                _update(page, user, row, link, groups.get(row.id, set()), Action.UPDATE)
            else:
                _link_or_create(page, user, stale_link=link)
    # Core executemany for what is new (thousands of rows in a full import), ORM for the rest.
    if page.new_employees:
        s.execute(insert(_table(EmployeeRow)), page.new_employees)
    s.add_all(page.pending)
    s.flush()
    if page.new_links:
        s.execute(insert(_table(DirectoryLinkRow)), page.new_links)
    if page.new_members:
        s.execute(insert(_table(EmployeeGroupRow)), page.new_members)
    return result


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


def _candidate_emails(users: Sequence[DirectoryUser], domains: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for user in users:
        found.update(_equivalents(user.email, domains))
    return found


def _equivalents(email: str, domains: tuple[str, ...]) -> list[str]:
    """alice@corp.example → [alice@corp.example, alice@example.com, …] when both are listed."""
    address = email.strip().lower()
    local, _, domain = address.rpartition("@")
    if domain in domains:
        return [address, *(f"{local}@{d}" for d in domains if d != domain)]
    return [address]


def _linked_among(s: Session, employee_ids: list[str]) -> list[str]:
    if not employee_ids:
        return []
    query = select(DirectoryLinkRow.employee_id).where(
        DirectoryLinkRow.employee_id.in_(employee_ids)
    )
    return list(s.scalars(query))


def _conflict(
    page: _Page, user: DirectoryUser, reason: str, employee_id: str | None = None
) -> None:
    page.result.changes.append(Change(Action.CONFLICT, user.username, employee_id, (), reason))


def _link_or_create(
    page: _Page, user: DirectoryUser, *, stale_link: DirectoryLinkRow | None
) -> None:
    if stale_link is not None:  # the employee was deleted here: the link went with it
        page.s.delete(stale_link)
    match = None
    for address in _equivalents(user.email, page.source.email_domains):
        if (match := page.by_email.get(address)) is not None:
            break
    if match is not None:
        if match.id in page.linked_ids:
            _conflict(
                page,
                user,
                f"e-mail {match.email} belongs to an employee linked to another directory object",
                match.id,
            )
            return
        link = DirectoryLinkRow(
            employee_id=match.id,
            source=page.source.name,
            external_key=user.key,
            dn=user.dn,
            fingerprint="",
            seen_run=page.run_id,
            directory_enabled=match.enabled,
            owned_fields=[],
            owned_groups=[],
        )
        page.pending.append(link)
        page.linked_ids.add(match.id)
        current = memberships(page.s, [match.id])[match.id]
        _update(page, user, match, link, current, Action.LINK)
        return
    _create(page, user)


def _taken(page: _Page, user: DirectoryUser, employee_id: str | None) -> str | None:
    other = page.by_username.get(user.username.lower())
    if other is not None and other.id != employee_id:
        return f"username {user.username!r} belongs to another employee"
    other = page.by_email.get(user.email.lower())
    if other is not None and other.id != employee_id:
        return f"e-mail {user.email!r} belongs to another employee"
    for value in (user.username.lower(), user.email.lower()):
        if value in page.claimed:
            return f"{value!r} appears twice in the directory"
    return None


class _NewRow:
    """An employee being made: attributes like a row, inserted as one dict with the page."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def _create(page: _Page, user: DirectoryUser) -> None:
    if (reason := _taken(page, user, None)) is not None:
        _conflict(page, user, reason)
        return
    employee_id = secrets.token_hex(8)
    row = _NewRow(
        id=employee_id,
        created_at=page.now,
        sso_mode=str(SsoMode.PASSWORDLESS),
        external_ids={},
        enabled=user.enabled,
        first_name="",
        last_name="",
        username=user.username,
        username_lower="",
        email=user.email,
        email_lower="",
        phone=None,
        company_id=None,
        department_id=None,
        position_id=None,
        ad_object_guid=None,
        ad_object_sid=None,
        entra_object_id=None,
        entra_tenant_id=None,
    )
    _fill(page, row, user)  # type: ignore[arg-type]
    page.new_employees.append(vars(row))
    groups = sorted({page.org.group(page.s, name) for name in user.groups})
    page.new_members.extend({"employee_id": employee_id, "group_id": g} for g in groups)
    page.new_links.append(
        {
            "employee_id": employee_id,
            "source": page.source.name,
            "external_key": user.key,
            "dn": user.dn,
            "fingerprint": user.fingerprint(),
            "seen_run": page.run_id,
            "directory_enabled": user.enabled,
            "owned_fields": sorted(page.source.owned_fields),
            "owned_groups": groups,
        }
    )
    _claim(page, user, row)  # type: ignore[arg-type]
    page.result.changes.append(Change(Action.CREATE, user.username, employee_id))


def _claim(page: _Page, user: DirectoryUser, row: EmployeeRow) -> None:
    page.claimed.update((user.username.lower(), user.email.lower()))
    page.by_username[user.username.lower()] = row
    page.by_email[user.email.lower()] = row


def _fill(page: _Page, row: EmployeeRow, user: DirectoryUser) -> list[str]:
    """Write the owned fields and ids of ``user`` into ``row``; the names of those that changed."""
    owned = page.source.owned_fields
    changed: list[str] = []

    def put(name: str, value: object) -> None:
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)

    for name in _PLAIN:
        if name in owned:
            put(name, getattr(user, name) if name != "phone" else (user.phone or None))
    row.username_lower, row.email_lower = row.username.lower(), row.email.lower()
    org, s = page.org, page.s
    if "company" in owned:
        put("company_id", org.company(s, user.company))
    if "department" in owned:
        put("department_id", org.department(s, row.company_id, user.department))
    if "position" in owned:
        put("position_id", org.position(s, user.position))
    for name in _IDS:
        if (value := getattr(user, name)) is not None:
            put(name, value)
    if user.upn and row.external_ids.get("upn") != user.upn:
        row.external_ids = {**row.external_ids, "upn": user.upn}
        changed.append("external_ids.upn")
    return changed


def _groups(
    page: _Page, employee_id: str, user: DirectoryUser, previous: Sequence[str], current: set[str]
) -> list[str]:
    wanted = sorted({page.org.group(page.s, name) for name in user.groups})
    if sorted(previous) != wanted:
        set_groups(page.s, page.pending, employee_id, previous, wanted, current)
    return wanted


def _update(
    page: _Page,
    user: DirectoryUser,
    row: EmployeeRow,
    link: DirectoryLinkRow,
    current_groups: set[str],
    action: Action,
) -> None:
    if (reason := _taken(page, user, row.id)) is not None:
        link.seen_run = page.run_id  # still in scope: not a departure, only not applied
        _conflict(page, user, reason, row.id)
        return
    said_before = link.directory_enabled
    fields = _fill(page, row, user)
    groups = _groups(page, row.id, user, link.owned_groups, current_groups)
    if groups != sorted(link.owned_groups):
        fields.append("groups")
    link.owned_groups, link.dn = groups, user.dn
    link.owned_fields = sorted(page.source.owned_fields)
    link.fingerprint, link.seen_run = user.fingerprint(), page.run_id
    _claim(page, user, row)
    link.directory_enabled = user.enabled
    # Only the directory's own changes move ``enabled``: an admin's local disable stands.
    if said_before != user.enabled and row.enabled != user.enabled:
        row.enabled = user.enabled
        state = Action.ENABLE if user.enabled else Action.DISABLE
        page.result.changes.append(Change(state, user.username, row.id, ("enabled",)))
        if not user.enabled:
            page.result.withdrawn.append(
                EmployeeWithdrawn(row.id, row.username, Withdrawal.DISABLED, page.source.name)
            )
    if fields or action is Action.LINK:
        page.result.changes.append(Change(action, user.username, row.id, tuple(sorted(fields))))
