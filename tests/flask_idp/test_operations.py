"""/healthz, /readyz, /metrics and the request id, through Flask's test client."""

from __future__ import annotations

import re

import pytest

from idp.store.errors import StoreUnavailable
from tests.flask_idp.conftest import Browser, Shell


def test_alive_and_ready(shell: Shell) -> None:
    client = shell.app.test_client()
    alive = client.get("/healthz")
    assert (alive.status_code, alive.get_json()) == (200, {"status": "alive"})
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "checks": {"database": "ok", "store": "ok"}}
    assert ready.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("failing", ["database", "store"])
def test_not_ready_names_what_does_not_answer(
    shell: Shell, failing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise StoreUnavailable("did not answer", store="x")

    target = shell.runtime.db if failing == "database" else shell.runtime.ephemeral
    monkeypatch.setattr(target, "ping", down)
    answer = shell.app.test_client().get("/readyz")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    body = answer.get_json()
    assert body["status"] == "not_ready" and re.fullmatch(r"[0-9a-f]{12}", body["error_id"])
    assert body["checks"][failing] == "unavailable (store_unavailable)"
    assert list(body["checks"].values()).count("ok") == 1
    assert shell.app.test_client().get("/healthz").status_code == 200


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series.startswith(name + "{") and _labels(series) == wanted:
            return float(value)
    return 0.0


def _labels(series: str) -> str:
    inner = series[series.index("{") + 1 : -1]
    return ",".join(sorted(inner.split(","))) if inner else ""


def test_metrics_count_sign_ins_and_requests(shell: Shell, alice: Browser) -> None:
    client = shell.app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    assert alice.sign_in().status_code == 200
    alice.http.post("/passkey/login/verify", json={"handle": "nope", "credential": {}},
                    headers={"X-CSRF-Token": alice.csrf("/login")})  # fmt: skip
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    after = answer.get_data(as_text=True)
    logins = "hideez_idp_logins_total"
    assert metric(after, logins, factor="passkey", result="success") == 1 + metric(
        before, logins, factor="passkey", result="success"
    )
    route = {"route": "/passkey/login/verify", "method": "POST"}
    assert metric(after, "hideez_idp_http_responses_total", status="2xx", **route) >= 1
    assert metric(after, "hideez_idp_http_responses_total", status="4xx", **route) >= 1
    assert metric(after, "hideez_idp_http_request_duration_seconds_count", **route) >= 2
    assert "hideez_idp_audit_queue_depth" in after


def test_metrics_only_for_the_configured_networks(shell: Shell) -> None:
    outside = shell.app.test_client().get(
        "/metrics",
        environ_base={"REMOTE_ADDR": "203.0.113.5"},
        headers={"Accept": "application/json"},
    )
    assert outside.status_code == 403
    assert "203.0.113.5 is not in it" in outside.get_json()["error_description"]
    mapped = shell.app.test_client().get(
        "/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}
    )
    assert mapped.status_code == 200


def test_every_answer_names_its_request(shell: Shell) -> None:
    client = shell.app.test_client()
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a"})
    assert kept.headers["X-Request-Id"] == "lb-7f3a"
    for hostile in ("x" * 200, "a b", "<x>"):
        replaced = client.get("/nope", headers={"X-Request-Id": hostile})
        assert replaced.status_code == 404
        assert re.fullmatch(r"[0-9a-f]{16}", replaced.headers["X-Request-Id"])
