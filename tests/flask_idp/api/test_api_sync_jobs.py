"""``POST /api/v1/sync/runs`` against the real Samba AD DC: 202 with a Location, the run in a
background worker, its progress and result at that Location; one run at a time (the claim in
the shared store, as another instance would hold it → 409); a failing source recorded as a
failed job that frees the slot; ``directory:sync`` for admins only."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flask_idp.app import create_app
from flask_idp.demo import prepare
from idp.admin.access import CLI, Role
from idp.admin.sync_jobs import CLAIM
from idp.config.loader import load_config
from idp.runtime import build_runtime
from idp.vault.model import KeyImport
from idp.vault.service import build_vault_service
from idp.vault.states import VaultReason, VaultStatus
from tests import samba_dc as ad
from tests.flask_idp.admin_support import Api
from tests.flask_idp.conftest import MovableClock
from tests.flask_idp.console.test_console_pages import csrf, signed_in

pytestmark = pytest.mark.samba


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory, samba: ad.SambaDC) -> Iterator[Any]:
    prefix = f"j{secrets.token_hex(3)}-"
    conn = samba.connect()
    group = ad.add_group(conn, f"{prefix}Sync")
    directory = tmp_path_factory.mktemp("sync_jobs")
    path = prepare(directory, port=18097, sp_port=18098)
    (directory / "corp.pw").write_text(ad.ADMIN_PASSWORD)
    (directory / "broken.pw").write_text("Wrong-Pass-1!")
    sources = "".join(
        f"""
    - name: {name}
      kind: ldap
      url: ldaps://localhost:{samba.port}
      ca_file: {samba.ca_file}
      bind_user: {ad.ADMIN}
      bind_password: {{file: {directory / (name + ".pw")}}}
      base_dn: {samba.base_dn}
      scope_group: {prefix}Sync
"""
        for name in ("corp", "broken")
    )
    path.write_text(path.read_text() + "\ndirectory:\n  sources:" + sources)
    clock = MovableClock()
    runtime = build_runtime(load_config(path), clock=clock)
    yield Api(app=create_app(runtime), runtime=runtime, clock=clock), conn, prefix, group
    conn.unbind()
    runtime.audit.flush()
    runtime.db.engine.dispose()


def _finished(api: Api, location: str) -> dict[str, Any]:
    """Wait (on the job's state, at most 60 s on a loaded machine) for the worker to finish."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.client.get(
            location, headers={"Authorization": f"Bearer {api.key(Role.AUDITOR)}"}
        ).json  # type: ignore[assignment]
        if job["state"] != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(f"the sync job at {location} did not finish")


def test_start_follow_and_finish_a_run(synced: Any) -> None:
    api, conn, prefix, group = synced
    dn = ad.add_user(conn, f"{prefix}ann", mail=f"{prefix}ann@corp.example", givenName="A", sn="N")
    ad.add_members(conn, group, [dn])
    started = api.call("POST", "/sync/runs", json={"sources": ["corp"], "full": True})
    assert started.status_code == 202, started.json
    location = started.headers["Location"]
    assert location == f"/api/v1/sync/jobs/{started.json['id']}"
    assert started.json["state"] == "running" and started.json["sources"] == ["corp"]
    job = _finished(api, location)
    assert job["state"] == "succeeded", job
    (result,) = job["results"]
    assert result["source"] == "corp" and result["mode"] == "full"
    assert result["changes"] == {"create": 1} and job["finished_at"] is not None
    assert api.runtime.employees.get_by_username(f"{prefix}ann") is not None
    runs = api.call("GET", "/sync/runs?source=corp").json["items"]
    assert runs[0]["changes"]["create"] == 1  # the same run, as the audit lists it


def test_a_run_withdraws_the_key_of_an_employee_it_disables(synced: Any) -> None:
    api, conn, prefix, group = synced
    dn = ad.add_user(conn, f"{prefix}bo", mail=f"{prefix}bo@corp.example", givenName="B", sn="O")
    ad.add_members(conn, group, [dn])
    body = {"sources": ["corp"]}
    assert (
        _finished(api, api.call("POST", "/sync/runs", json=body).headers["Location"])["state"]
        == "succeeded"
    )
    bo = api.runtime.employees.get_by_username(f"{prefix}bo")
    assert bo is not None
    vault = build_vault_service(api.runtime)
    serial = f"ST{secrets.token_hex(6).upper()}"
    mac = ":".join(secrets.token_hex(1).upper() for _ in range(6))
    vault.import_keys(actor=CLI, keys=[KeyImport(serial, mac, "Hideez Key 4", "4.0.1")])
    vault.assign(actor=CLI, serial=serial, employee_id=bo.id)

    ad.set_attributes(conn, dn, userAccountControl=ad.NO_PASSWORD_ACCOUNT | ad.ACCOUNTDISABLE)
    job = _finished(api, api.call("POST", "/sync/runs", json=body).headers["Location"])

    assert job["state"] == "succeeded", job
    (result,) = job["results"]
    assert result["keys"] == [
        {"serial": serial, "username": bo.username, "withdrawn": True, "error": None}
    ]
    key = vault.show_key(serial=serial)
    assert (key.status, key.reason) == (VaultStatus.DEACTIVATED, VaultReason.WITHDRAWAL)


def test_one_run_at_a_time_across_instances(synced: Any) -> None:
    api = synced[0]
    api.runtime.ephemeral.put(CLAIM, b"elsewhere", ttl=60)  # another instance is running one
    try:
        refused = api.call("POST", "/sync/runs", json={})
        assert refused.status_code == 409 and refused.json["error"] == "sync_run_in_progress"
        assert "job elsewhere" in refused.json["detail"]
    finally:
        api.runtime.ephemeral.delete(CLAIM)


def test_a_job_whose_worker_died_reads_as_failed(synced: Any) -> None:
    api = synced[0]
    held = api.call("POST", "/sync/runs", json={"sources": ["broken"]})
    job = _finished(api, held.headers["Location"])
    api.runtime.ephemeral.hash_put("sync-job:" + job["id"], {"state": b'"running"'}, ttl=60)
    shown = api.call("GET", f"/sync/jobs/{job['id']}").json  # no claim: nobody runs it
    assert shown["state"] == "failed" and "worker stopped" in shown["error"]


def test_a_failing_source_fails_the_job_and_frees_the_slot(synced: Any) -> None:
    api = synced[0]
    started = api.call("POST", "/sync/runs", json={"sources": ["broken"]})
    assert started.status_code == 202
    job = _finished(api, started.headers["Location"])
    assert job["state"] == "failed" and job["results"] == []
    assert job["error"].startswith("broken: the directory refused the sign-in"), job
    assert api.runtime.ephemeral.get(CLAIM) is None
    again = api.call("POST", "/sync/runs", json={"sources": ["nope"]})
    assert again.status_code == 422 and again.json["errors"][0]["field"] == "sources"


def test_only_admins_start_runs(synced: Any) -> None:
    api = synced[0]
    for role in (Role.HELPDESK, Role.AUDITOR):
        r = api.call("POST", "/sync/runs", role=role, json={})
        assert r.status_code == 403 and "needs 'directory:sync'" in r.json["detail"]
    assert api.call("GET", "/sync/jobs/0123456789abcdef").status_code == 404
    assert api.call("GET", "/sync/jobs/..%2f").status_code == 404


def test_the_console_button_starts_a_run_and_shows_it(synced: Any) -> None:
    """The console's "Run now" (here beside the API test, to share its directory)."""
    api = synced[0]
    admin = signed_in(api, Role.ADMIN)
    shown = admin.get("/console/sync").get_data(as_text=True)
    assert 'id="sync-now"' in shown
    helpdesk = signed_in(api, Role.HELPDESK)
    assert 'id="sync-now"' not in helpdesk.get("/console/sync").get_data(as_text=True)
    assert helpdesk.post("/console/sync/run", data={"csrf": csrf(helpdesk)}).status_code == 403
    assert admin.post("/console/sync/run", data={}).status_code == 400  # no CSRF token
    started = admin.post("/console/sync/run", data={"csrf": csrf(admin), "full": "on"})
    assert started.status_code == 303
    location = started.headers["Location"]
    job_id = location.rsplit("/", 1)[1]
    _finished(api, f"/api/v1/sync/jobs/{job_id}")
    page = admin.get(location).get_data(as_text=True)
    assert 'id="job-state" role="status">failed' in page  # the broken source fails the run
    assert "broken: the directory refused the sign-in" in page and "<td>corp</td>" in page


def test_the_started_runs_are_listed_newest_first(synced: Any) -> None:
    """After the runs above: the API listing pages through them, the console lists them."""
    api = synced[0]
    first = api.call("GET", "/sync/jobs?limit=2", role=Role.AUDITOR)
    assert first.status_code == 200, first.json
    rest = api.call("GET", f"/sync/jobs?limit=50&cursor={first.json['next_cursor']}")
    jobs = first.json["items"] + rest.json["items"]
    assert len(jobs) >= 4 and rest.json["next_cursor"] is None
    started = [j["started_at"] for j in jobs]
    assert started == sorted(started, reverse=True)
    for job in jobs:  # each as GET of its own Location shows it
        assert api.call("GET", f"/sync/jobs/{job['id']}").json == job
    assert jobs[-1]["sources"] == ["corp"] and jobs[-1]["state"] == "succeeded"
    r = api.call("GET", "/sync/jobs?cursor=bm90IG91cnM")
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "cursor"
    auditor = signed_in(api, Role.AUDITOR)
    assert 'href="/console/sync/jobs"' in auditor.get("/console/sync").get_data(as_text=True)
    page = auditor.get("/console/sync/jobs").get_data(as_text=True)
    links = [f'href="/console/sync/jobs/{j["id"]}"' for j in jobs]
    assert all(link in page for link in links)
    assert page.index(links[0]) < page.index(links[-1])  # newest first
    assert "broken: the directory refused the sign-in" in page
