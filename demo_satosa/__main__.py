"""``python -m demo_satosa`` (``make run-satosa``): SATOSA with the plugin pack on localhost.

Prepares ``var/satosa-demo/`` (keys, metadata, the hideez-idp configuration) for the files in
``config/satosa/``, then starts, each on its own port:

- the Flask IdP (8080), where employees enrol their passkeys (it prints alice's link);
- the upstream IdP (8091): pysaml2, signing in the user named by ``--upstream-user``;
- the python3-saml demo SP (8092), which signs in through SATOSA;
- SATOSA (8090) under gunicorn: ``satosa_plugins.wsgi:app`` with
  ``SATOSA_CONFIG=config/satosa/proxy_conf.yaml``, one worker (see docs/satosa.md on workers).

Run from the repository root (SATOSA takes relative paths from its working directory).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import yaml
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from werkzeug.serving import make_server

from demo_satosa.peers import PPT, Upstream, keys, sp_metadata, sp_settings

ROOT = Path.cwd()
STATE = ROOT / "var/satosa-demo"
CONFIG = ROOT / "config/satosa"
IDP_PORT, SATOSA_PORT, UPSTREAM_PORT, SP_PORT = 8080, 8090, 8091, 8092
WSFED = """
wsfed:
  relying_parties:
    - name: owa
      display_name: Outlook on the web
      profile: exchange
      realm: https://mail.example.com/owa/
      reply_urls: [https://mail.example.com/owa/]
"""


def prepare_idp() -> Path:
    from flask_idp.demo import prepare

    config = prepare(STATE / "idp", port=IDP_PORT, sp_port=IDP_PORT + 1)
    text = config.read_text()
    origins = (
        f"webauthn:\n  origins: [http://localhost:{IDP_PORT}, http://localhost:{SATOSA_PORT}]\n"
    )
    config.write_text(text.replace("webauthn:\n", origins, 1) + WSFED)
    return config


def prepare_peers(upstream: Upstream) -> dict[str, Any]:
    for name in ("frontend", "backend"):
        keys(STATE / "keys", name)
    (STATE / "upstream-metadata.xml").write_text(upstream.metadata())
    base = f"http://localhost:{SATOSA_PORT}"
    settings = sp_settings(
        sp_url=f"http://localhost:{SP_PORT}", base=base, directory=STATE / "keys"
    )
    (STATE / "sp").mkdir(exist_ok=True)
    (STATE / "sp/settings.json").write_text(json.dumps(settings))
    (STATE / "sp-metadata.xml").write_text(sp_metadata(settings))
    backend = yaml.safe_load((CONFIG / "plugins/backends/saml2_backend.yaml").read_text())
    metadata = create_metadata_string(None, config=SPConfig().load(backend["config"]["sp_config"]))
    return {"backend_metadata": metadata.decode() if isinstance(metadata, bytes) else metadata}


def serve(app: Any, port: int) -> None:
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_satosa")
    parser.add_argument("--upstream-user", default="alice", help="who the upstream IdP signs in")
    args = parser.parse_args()
    from demo_sp.app import create_app as create_sp
    from flask_idp.app import create_app
    from flask_idp.commands import bind, enrolment_link
    from flask_idp.demo import seed
    from idp.config.loader import load_config
    from idp.runtime import build_runtime

    (STATE / "keys").mkdir(parents=True, exist_ok=True)
    upstream = Upstream(
        url=f"http://localhost:{UPSTREAM_PORT}", key=keys(STATE / "keys", "upstream")
    )
    upstream.user, upstream.class_ref = args.upstream_user, PPT
    config_path = prepare_idp()
    peers = prepare_peers(upstream)
    upstream.start(peers["backend_metadata"])
    config = load_config(config_path)
    runtime = build_runtime(config)
    seed(runtime)
    server = bind(create_app(runtime), config)
    serve(upstream, UPSTREAM_PORT)
    serve(create_sp(STATE / "sp"), SP_PORT)
    satosa = subprocess.Popen(  # noqa: S603 - fixed arguments, our own venv
        [str(Path(sys.executable).parent / "gunicorn"), "-w", "1", "-b",
         f"127.0.0.1:{SATOSA_PORT}", "satosa_plugins.wsgi:app"],
        env={**os.environ, "SATOSA_CONFIG": str(CONFIG / "proxy_conf.yaml")},
    )  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("\n=== hideez-idp SATOSA demo ===")
    print(f"Enrol {args.upstream_user}:   {enrolment_link(runtime, args.upstream_user)}")
    print(f"Then sign in:  http://localhost:{SP_PORT}/  (demo SP → SATOSA → upstream → passkey)")
    print(f"SATOSA:        http://localhost:{SATOSA_PORT}/  (config/satosa/proxy_conf.yaml)")
    print("Stop with Ctrl-C.\n", flush=True)
    try:
        server.run()
    finally:
        server.close()
        satosa.terminate()
        satosa.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
