"""Real ``device_gateway`` agents against a real link server (websockets on loopback), on
SQLite + the in-process store and on PostgreSQL + Redis: register → refused until approved →
approved → settings → lock command → events → sessions and summaries."""

from __future__ import annotations

import asyncio

from idp.audit import AuditKind
from idp.directory.model import Company, Department
from idp.store.sql import Database, EmployeeRepository, OrganisationRepository
from idp.workstations import commands, pclogin
from idp.workstations.ca import LocalCa
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.model import ProximitySettings, WorkstationStatus
from idp.workstations.proximity import ProximityPolicy
from idp.workstations.summaries import SummaryKind, to_csv
from tests.e2e.workstations.harness import ADMIN, Site, until
from tests.store.sql.helpers import NOW, employee


def _people(db: Database) -> None:
    organisation = OrganisationRepository(db)
    organisation.add_company(Company(id="c1", name="Corp"))
    organisation.add_department(Department(id="d1", name="Finance", company_id="c1"))
    EmployeeRepository(db).add(
        employee(1, username="alice", email="alice@corp.example", department_id="d1"), now=NOW
    )


def test_register_approve_settings_lock_events_sessions_summaries(site: Site) -> None:
    _people(site.db)

    async def scenario() -> None:
        server = await site.instance()
        agent = site.agent("pc-1", server.url)
        gateway = agent.gateway
        ws_id = gateway.identity.workstation_id
        await until(lambda: site.registry.get(ws_id) is not None, what="registration")
        # Pending: refused everything but registration, and it keeps trying.
        await until(lambda: gateway.state.last_error is not None, what="refusal")
        assert gateway.state.last_error["error"] == "workstation_not_approved"
        assert site.registry.require(ws_id).status is WorkstationStatus.PENDING
        assert not gateway.connected.is_set()

        site.admin.set_status(
            actor=ADMIN,
            workstation_id=ws_id,
            status=WorkstationStatus.APPROVED,
            now=site.clock(),
        )
        await until(gateway.connected.is_set, what="welcome after approval")
        assert gateway.state.settings == ProximityPolicy().to_wire()

        site.admin.update_settings(
            actor=ADMIN,
            workstation_id=ws_id,
            now=site.clock(),
            settings=ProximitySettings(25, 75, 8),
        )
        await until(lambda: gateway.state.settings.get("lock_timeout") == 8, what="settings")

        gateway.unlocked(account="CORP\\alice", employee="alice", unlocked_by=UnlockedBy.PROXIMITY)
        await until(lambda: site.journal.sessions(workstation_id=ws_id).total == 1)
        site.admin.lock_workstation(
            actor=ADMIN,
            workstation_id=ws_id,
            now=site.clock(),
        )
        await until(lambda: agent.actuator.locked, what="the lock command")
        await until(lambda: len(gateway.spool) == 0, what="every event acknowledged")
        await agent.shutdown()
        await server.stop()

    asyncio.run(scenario())
    ws_id = site.registry.list().items[0].id
    types = [e.event.type for e in reversed(site.journal.events(workstation_id=ws_id).items)]
    assert types[-3:] == [EventType.UNLOCK, EventType.LOCK, EventType.SERVER_DISCONNECTED] or (
        types[-2:] == [EventType.UNLOCK, EventType.LOCK]
    )
    assert EventType.SERVICE_STARTED in types and EventType.SERVER_CONNECTED in types
    (session,) = site.journal.sessions(workstation_id=ws_id).items
    assert session.employee_id == "emp-1" and session.unlocked_by is UnlockedBy.PROXIMITY
    assert session.end_reason == "lock" and session.ended_at is not None
    assert session.account == "CORP\\alice"

    by_employee = site.summaries.query(SummaryKind.EMPLOYEE).items
    assert [(r.employee, r.department, r.sessions, r.workstations) for r in by_employee] == [
        ("alice", "Finance", 1, 1)
    ]
    (by_ws,) = site.summaries.query(SummaryKind.WORKSTATION).items
    assert (by_ws.workstation, by_ws.employees, by_ws.sessions) == ("pc-1", 1, 1)
    (by_day,) = site.summaries.query(SummaryKind.DAY_AND_EMPLOYEE).items
    assert by_day.day == session.started_at.date().isoformat()
    csv_text = to_csv(SummaryKind.DEPARTMENT, site.summaries.all(SummaryKind.DEPARTMENT))
    assert csv_text.splitlines()[1].startswith("Finance,1,1,1,")
    actions = [e.details.get("action") for e in site.audit.list(kind=AuditKind.ADMIN_CHANGE).items]
    assert {"workstation_approved", "workstation_settings", "workstation_lock"} <= set(actions)


def test_credentials_over_the_link_unlock_through_the_actuator(site: Site) -> None:
    ca = LocalCa.create("logon CA", now=site.clock())

    async def scenario() -> None:
        server = await site.instance()
        agent = site.agent("pc-login", server.url)
        ws_id = agent.gateway.identity.workstation_id
        await until(lambda: site.registry.get(ws_id) is not None)
        site.admin.set_status(
            actor=ADMIN,
            workstation_id=ws_id,
            status=WorkstationStatus.APPROVED,
            now=site.clock(),
        )
        await until(agent.gateway.connected.is_set)
        # The lock screen asks for a QR; the nonce it shows is single-use.
        await agent.gateway.request_qr()
        await until(lambda: agent.gateway.state.qr_payload is not None, what="QR")
        payload = agent.gateway.state.qr_payload or ""
        assert pclogin.redeem_qr(store=site.store, payload=payload) == ws_id
        workstation = site.registry.require(ws_id)
        # A tampered sealed credential, an unknown method, a server frame that
        # is not JSON: each is dropped, nothing is unlocked, and the link stays up.
        other = pclogin.password_command(workstation=workstation, account="x", password="y")
        other.body["sealed"]["ct"] = other.body["sealed"]["ct"][:-4] + "AAAA"
        commands.publish(site.store, ws_id, other)
        commands.publish(
            site.store,
            ws_id,
            commands.Command(commands.CommandKind.CREDENTIALS, {"method": "telepathy"}),
        )
        await server.link.connections[ws_id].send("not json")
        await asyncio.sleep(0.3)
        assert agent.actuator.calls == [] and agent.gateway.connected.is_set()
        commands.publish(
            site.store,
            ws_id,
            pclogin.password_command(
                workstation=workstation, account="CORP\\alice", password="Corr3ct horse"
            ),
        )
        await until(lambda: len(agent.actuator.calls) == 1, what="password unlock")
        action, credential = agent.actuator.calls[0]
        assert action == "unlock" and credential is not None
        assert (credential.account, credential.method, credential.secret) == (
            "CORP\\alice",
            "password",
            "Corr3ct horse",
        )
        commands.publish(
            site.store,
            ws_id,
            pclogin.certificate_command(
                ca=ca,
                workstation=workstation,
                account="CORP\\alice",
                upn="alice@corp.example",
                now=site.clock(),
            ),
        )
        await until(lambda: len(agent.actuator.calls) == 2, what="certificate unlock")
        certificate = agent.actuator.calls[1][1]
        assert certificate is not None and certificate.method == "certificate"
        assert "BEGIN CERTIFICATE" in certificate.secret
        # During the alarm a delivered credential is not used.
        site.admin.raise_alarm(
            actor=ADMIN,
            now=site.clock(),
        )
        await until(lambda: agent.gateway.state.alarm)
        commands.publish(
            site.store,
            ws_id,
            pclogin.password_command(
                workstation=workstation, account="CORP\\alice", password="Corr3ct horse"
            ),
        )
        await until(
            lambda: (
                any(e.type is EventType.UNLOCK_REFUSED for e in agent.gateway.spool.pending(100))
                or (
                    site.journal.events(workstation_id=ws_id).total > 0
                    and any(
                        s.event.type is EventType.UNLOCK_REFUSED
                        for s in site.journal.events(workstation_id=ws_id).items
                    )
                )
            )
        )
        assert [c[0] for c in agent.actuator.calls] == ["unlock", "unlock", "lock"]
        await agent.shutdown()
        await server.stop()

    asyncio.run(scenario())
