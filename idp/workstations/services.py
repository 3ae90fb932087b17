"""The workstation objects of one process, built once from its :class:`~idp.runtime.Runtime`."""

from __future__ import annotations

from dataclasses import dataclass

from idp.runtime import Runtime
from idp.workstations.ca import LocalCa
from idp.workstations.journal import EventJournal
from idp.workstations.link import LinkService
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
        calibration=settings.proximity.calibration,
    )
    return Workstations(registry, journal, Summaries(runtime.db), link, ca)
