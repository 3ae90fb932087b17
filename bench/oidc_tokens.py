"""Token-endpoint code → id_token exchanges per second on one core, RS256 and ES256, against
authlib's ``generate_id_token`` with an authlib ``JsonWebKey`` (its default path).

Run: ``.venv/bin/python bench/oidc_tokens.py [--seconds 2] [--redis redis://127.0.0.1:6379/15]``.
Each of our exchanges is the whole token endpoint minus HTTP: client authentication
(client_secret_basic), code redemption (GETDEL + used marker), PKCE S256, access and refresh
token issuance, id_token claims and signature. Goal: ≥ 50× authlib's default path for RS256.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import secrets
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
with warnings.catch_warnings():
    # authlib.jose is deprecated in favour of joserfc; it is still authlib's default path.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey
    from authlib.oidc.core.grants.util import generate_id_token

from idp.config.oidc import Lifetimes, OidcKeyFiles, OidcSettings
from idp.directory.model import Employee
from idp.keys import KeySet, generate_self_signed
from idp.oidc.clients import Client, ClientCredentials, ClientRegistry
from idp.oidc.grants import Grant, GrantStore, new_grant_id
from idp.oidc.keys import keys_from_signing_keys
from idp.oidc.provider import OidcProvider
from idp.oidc.store import SqlRefreshFamilies
from idp.store.ephemeral import open_ephemeral
from idp.store.sql import EmployeeRepository, migrate, open_database

SECRET = secrets.token_urlsafe(32)
ISSUER = "https://idp.example.com"


def provider(store_url: str, directory: Path) -> OidcProvider:
    rsa_key = generate_self_signed(directory / "r.key", directory / "r.crt", common_name="r")
    ec_key = generate_self_signed(directory / "e.key", directory / "e.crt", common_name="e",
                                  kind="ec")  # fmt: skip
    # code → id_token + access token (no refresh token asked for) per algorithm, and the same
    # for RS256 with a refresh token whose family is written to the database.
    clients = {
        alg.lower(): Client(client_id=alg.lower(), name=alg, redirect_uris=("https://rp/cb",),
                    secret=SECRET, id_token_signed_response_alg=alg, refresh_tokens=False)
        for alg in ("RS256", "ES256")
    }  # fmt: skip
    clients["rs256-refresh"] = Client(client_id="rs256-refresh", name="RS256-refresh",
                                      redirect_uris=("https://rp/cb",), secret=SECRET,
                                      id_token_signed_response_alg="RS256")  # fmt: skip
    employee = Employee(id="e1", username="alice", email="alice@example.com",
                        first_name="Alice", last_name="Andersen")  # fmt: skip
    settings = OidcSettings(issuer=ISSUER, base_url=ISSUER, keys=OidcKeyFiles(),
                            lifetimes=Lifetimes(), clients=ClientRegistry(clients),
                            pairwise_salt="salt-salt-salt-salt")  # fmt: skip
    store = open_ephemeral(store_url)
    db = open_database(f"sqlite:///{directory / 'idp.sqlite3'}")
    migrate(db.engine)
    EmployeeRepository(db).add(employee, now=dt.datetime.now(dt.UTC))
    return OidcProvider(
        settings=settings,
        keys=keys_from_signing_keys(KeySet(rsa_key), KeySet(ec_key)),
        grants=GrantStore(store, families=SqlRefreshFamilies(db)),
        store=store,
        employees=lambda _id: employee,
    )


def ours(op: OidcProvider, alg: str, seconds: float, client_id: str | None = None) -> float:
    client_id = client_id or alg.lower()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    grant = Grant(grant_id="g", client_id=client_id, employee_id="e1", session_id="s" * 32,
                  scopes=("openid", "profile", "email"), auth_time=time.time(),
                  acr="https://refeds.org/profile/mfa", amr=("fido", "hwk"),
                  redirect_uri="https://rp/cb", nonce="n-1",
                  code_challenge=challenge.rstrip(b"=").decode())  # fmt: skip
    basic = "Basic " + base64.b64encode(f"{client_id}:{SECRET}".encode()).decode()
    credentials = ClientCredentials(authorization=basic)
    batch = 500
    done, elapsed = 0, 0.0
    while elapsed < seconds:
        codes = [op.grants.issue_code(Grant(**{**grant.__dict__, "grant_id": new_grant_id()}))
                 for _ in range(batch)]  # fmt: skip
        start = time.perf_counter()
        for code in codes:
            form = {
                "grant_type": ["authorization_code"],
                "code": [code],
                "redirect_uri": ["https://rp/cb"],
                "code_verifier": [verifier],
            }
            op.token(form, credentials=credentials, now=dt.datetime.now(dt.UTC))
        elapsed += time.perf_counter() - start
        done += batch
    return done / elapsed


def authlib_default(pem: bytes, alg: str, seconds: float) -> float:
    key = JsonWebKey.import_key(pem, {"kty": "RSA" if alg == "RS256" else "EC"})
    token = {"access_token": secrets.token_urlsafe(32)}
    user = {"sub": "e1", "email": "alice@example.com"}
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        generate_id_token(token, user, key, ISSUER, "rs256", alg=alg, nonce="n-1",
                          auth_time=int(time.time()))  # fmt: skip
        done += 1
    return done / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--store", default="memory://", help="memory:// or redis://host/db")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        op = provider(args.store, Path(tmp))
        print(f"store: {args.store}; one process, one core")
        results = {}
        for alg, key_file in (("RS256", "r.key"), ("ES256", "e.key")):
            mine = ours(op, alg, args.seconds)
            theirs = authlib_default((Path(tmp) / key_file).read_bytes(), alg, args.seconds)
            results[alg] = mine / theirs
            print(
                f"{alg}: hideez-idp token endpoint {mine:8.0f}/s   authlib generate_id_token "
                f"(JsonWebKey) {theirs:8.0f}/s   ratio {mine / theirs:6.1f}x"
            )
        with_refresh = ours(op, "RS256", args.seconds, client_id="rs256-refresh")
        print(f"RS256 with a refresh token (family stored in SQLite): {with_refresh:8.0f}/s")
    goal = results["RS256"] >= 50
    print(f"goal ≥ 50x for RS256: {'met' if goal else 'NOT met'}")
    return 0 if goal else 1


if __name__ == "__main__":
    raise SystemExit(main())
