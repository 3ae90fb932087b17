"""The workstation objects of one process, built once from its :class:`~idp.runtime.Runtime`."""

from __future__ import annotations

from dataclasses import dataclass

from idp.runtime import Runtime
from idp.vault.relay import KeyConversations
from idp.vault.service import build_vault_service
from idp.workstations.ca import LocalCa
from idp.workstations.journal import EventJournal
from idp.workstations.link import LinkService
from idp.workstations.offline_revocations import OfflineRevocations
from idp.workstations.registry import WorkstationRepository
from idp.workstations.summaries import Summaries


@dataclass(frozen=True)
class Workstations:
    registry: WorkstationRepository
    journal: EventJournal
    summaries: Summaries
    link: LinkService
    #: the local logon CA (loaded once), None when ``workstations.logon_ca`` is not set
    ca: LocalCa | None


def build_workstations(runtime: Runtime) -> Workstations:
    settings = runtime.config.workstations
    registry = WorkstationRepository(runtime.db, defaults=settings.proximity.settings)
    journal = EventJournal(runtime.db)
    ca = None
    if settings.logon_ca is not None:
        ca = LocalCa.load(settings.logon_ca.key, settings.logon_ca.cert)
    link = LinkService(
        registry=registry,
        journal=journal,
        store=runtime.ephemeral,
        audit=runtime.audit,
        clock=runtime.clock,
        window=settings.link.window,
        registration_limit=settings.registration_limit,
        calibration=settings.proximity.calibration,
        key_conversations=KeyConversations(vault=build_vault_service(runtime)),
        revocations=OfflineRevocations(runtime.db, runtime.ephemeral),
        offline_hours=settings.pc_login.offline_hours,
    )
    return Workstations(registry, journal, Summaries(runtime.db), link, ca)
