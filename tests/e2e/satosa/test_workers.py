"""Two SATOSA workers behind one name, each with its own runtime (its own database pool and
Redis client), sharing PostgreSQL and Redis: a sign-in begun on one finishes on the other.

SATOSA's SAML backend keeps its outstanding upstream request ids in a per-process dict
(SATOSA issue #434), so the upstream's answer goes back to the worker that sent the request;
everything our plugins keep is in the shared store, so the MFA pages work on either worker."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator

import pytest

from idp.runtime import _SHARED
from tests.e2e.satosa.client import SatosaClient, class_ref
from tests.e2e.satosa.proxy import PPT, REFEDS_MFA, Proxy, make_satosa
from tests.e2e.server import _Thread, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def second_worker(proxy: Proxy) -> Iterator[str]:
    # Another file with the same content: shared_runtime() builds a second, separate runtime.
    config_path = proxy.idp.config_path.with_name("idp-worker2.yaml")
    shutil.copyfile(proxy.idp.config_path, config_path)
    config = copy.deepcopy(proxy.config)
    config["MICRO_SERVICES"][-1]["config"]["idp_config"] = str(config_path)
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, make_satosa(config), threaded=True)
    thread = _Thread(server)
    thread.start()
    runtime = _SHARED[config_path.resolve()]
    assert runtime is not proxy.runtime
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _SHARED.pop(config_path.resolve(), None)
        runtime.close()


def test_a_sign_in_begun_on_one_worker_finishes_on_the_other(
    proxy: Proxy, second_worker: str
) -> None:
    client = SatosaClient(proxy)
    client.enrol("alice")
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
    ticket = client.ticket_of(client.start())  # worker 1 took the upstream's answer
    client.base = second_worker  # the balancer sends the rest to worker 2
    answer = client.resume(client.passkey(ticket))
    assert class_ref(answer) == REFEDS_MFA
    client.base = proxy.base
    assert "alice@example.com" in client.deliver(answer).text


def test_a_step_taken_on_one_worker_cannot_be_replayed_on_the_other(
    proxy: Proxy, second_worker: str
) -> None:
    client = SatosaClient(proxy)
    client.enrol("alice")
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
    verify = client.passkey(client.ticket_of(client.start()))
    assert class_ref(client.resume(verify)) == REFEDS_MFA
    client.base = second_worker
    again = client.resume(verify)
    assert again.status_code == 400 and "SAMLResponse" not in again.text
