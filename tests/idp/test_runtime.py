"""One runtime per process, shared by every shell or plugin that asks for it (issue 7, item 4)."""

from __future__ import annotations

import threading
from pathlib import Path

from flask_idp.demo import prepare
from idp import runtime as runtime_module
from idp.protocols import Protocols
from idp.runtime import shared_runtime


def test_plugins_of_one_process_share_one_runtime(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = prepare(tmp_path / "idp", port=8080, sp_port=8081)
    built: list[object] = []
    real = runtime_module.build_runtime

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(runtime_module, "build_runtime", counting)
    monkeypatch.setattr(runtime_module, "_SHARED", {})
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(shared_runtime(config)))
               for _ in range(4)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Four plugins asking at once (also by another spelling of the path): one build, one
    # migration, one pool, keys loaded once.
    again = shared_runtime(tmp_path / "idp" / ".." / "idp" / config.name)
    assert len(built) == 1
    assert all(r is results[0] for r in results) and again is results[0]
    rt = results[0]
    assert isinstance(rt.protocols, Protocols) and rt.protocols.saml is not None
    assert list(rt.protocols) == ["saml"] and "oidc" not in rt.protocols
    rt.close()


def test_the_shared_runtime_sends_queued_pushes_and_stops_sending_on_close(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The SATOSA plugins' process (shared_runtime) runs the push sender as the Flask IdP's
    does: started with the runtime when a push service is configured, stopped by close()."""
    from idp.config.loader import load_config
    from idp.runtime import build_runtime
    from tests.idp.factors.authenticator.push_standins import fcm_standin

    with fcm_standin(tmp_path) as fcm:
        config = prepare(tmp_path / "idp", port=8080, sp_port=8081)
        (tmp_path / "fcm.json").write_text(fcm.service_account())
        config.write_text(config.read_text() + (
            f"authenticator:\n  fcm:\n    project_id: {fcm.project_id}\n"
            f"    service_account: {{file: {tmp_path}/fcm.json}}\n"
            f"    endpoint: {fcm.url}\n    ca_file: {tmp_path}/standin.crt\n"
        ))  # fmt: skip
        monkeypatch.setattr(runtime_module, "_SHARED", {})
        rt = shared_runtime(config)
        sender = rt.authenticator.push_sender
        assert sender is not None and sender.running
        rt.close()
        assert not sender.running
        # A command that leaves the schema alone (device list, audit …) sends nothing.
        quiet = build_runtime(load_config(config), run_migrations=False)
        assert quiet.authenticator.push_sender is None
        quiet.close()
