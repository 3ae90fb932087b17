"""Scale across cores: SAML SSO (HTTP-Redirect) and passkey sign-ins with one gunicorn worker on
one core (load from the other) and with two workers on both cores (load from both), as a ratio.

The two-worker run shares its cores with the load generator, so the ratio understates what two
cores serve behind a load balancer on other machines; the goal is ≥ 1.8×. Sessions, challenges
and replay caches are in Redis, so either worker finishes what the other began.

Run: .venv/bin/python bench/cores.py [seconds per figure]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.paths import Idp, _passkey_worker, client_loops, configure, load
from bench.servers import Server, authn_requests, enrol, free_port
from flask_idp.demo import seed
from idp.config.loader import load_config
from idp.runtime import build_runtime
from tests.e2e.entra_sim import EntraSim, serve_jwks


def figures(
    idp: Idp, sim: EntraSim, config: Path, seconds: float, *, workers: int
) -> tuple[float, float]:
    server_cpus = {0} if workers == 1 else {0, 1}
    os.sched_setaffinity(0, {1} if workers == 1 else {0, 1})
    with Server(idp.port, "flask_idp.wsgi:create()", cpus=server_cpus, workers=workers,
                HIDEEZ_IDP_CONFIG=str(config)):  # fmt: skip
        http, _ = enrol(idp.base_url, idp.runtime)
        idp.cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.get_dict().items())
        saml = load(idp, authn_requests(idp.sp_settings, int(1200 * seconds)), seconds)
        passkeys = client_loops(idp, _passkey_worker, sim, seconds, workers=3 * workers)
    return saml, passkeys


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    work = Path(tempfile.mkdtemp(prefix="bench-cores-"))
    port = free_port()
    sim = EntraSim()
    with serve_jwks(sim) as jwks_url:
        config = configure(work, port, free_port(), jwks_url)
        runtime = build_runtime(load_config(config))
        seed(runtime)
        idp = Idp(f"http://localhost:{port}", port, runtime, work,
                  json.loads((work / "sp/settings.json").read_text()))  # fmt: skip
        one = figures(idp, sim, config, seconds, workers=1)
        two = figures(idp, sim, config, seconds, workers=2)
    print("scale across cores (gunicorn sync workers, one per core):")
    for name, a, b in (("SAML SSO, HTTP-Redirect", one[0], two[0]),
                       ("passkey sign-in", one[1], two[1])):  # fmt: skip
        print(f"  {name:<26} 1 worker {a:8.1f}/s   2 workers {b:8.1f}/s   ratio {b / a:4.2f}x "
              "(goal >= 1.8x)")  # fmt: skip


if __name__ == "__main__":
    main()
