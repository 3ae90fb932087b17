"""Everything the IdP needs at run time, built once from the configuration.

Both shells (the Flask IdP and the SATOSA plugins) use one :class:`Runtime` per process: keys
are loaded and turned into signer objects here, stores are opened and the database migrated
here, and nothing on a request path loads a key or opens a connection pool. Several shells or
plugins in one process share it through :func:`shared_runtime`.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from idp.config.schema import IdpConfig
from idp.directory.cache import EmployeeCache
from idp.factors.authenticator.service import AuthenticatorServices, build_authenticator
from idp.factors.password import Argon2Params, prepare_hashing
from idp.flows.parking import Tickets
from idp.keys import KeySet, load_signing_key
from idp.protocols import Protocols
from idp.secrets import SecretBox
from idp.secrets_unlock import unlock_secrets
from idp.sessions import SessionStore
from idp.store.ephemeral import EphemeralStore, open_ephemeral
from idp.store.sql import (
    AuditRepository,
    Database,
    EmployeeRepository,
    EnrolmentRepository,
    PasskeyRepository,
    PasswordRepository,
    SecretKeyRepository,
    migrate,
    open_database,
)
from idp.xmlsig import XmlSigner


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Runtime:
    config: IdpConfig
    keys: KeySet
    xml_signer: XmlSigner
    db: Database
    ephemeral: EphemeralStore
    sessions: SessionStore
    employees: EmployeeRepository
    passkeys: PasskeyRepository
    enrolment: EnrolmentRepository
    audit: AuditRepository
    passwords: PasswordRepository
    #: the argon2id costs of this process (measured once at start, or fixed in the config)
    password_params: Argon2Params
    #: read-through employee cache for sign-in paths (see idp.directory.cache)
    directory: EmployeeCache
    tickets: Tickets
    #: the secrets envelope (locked without a master key) and the authenticator-app factor
    secrets: SecretBox
    authenticator: AuthenticatorServices
    clock: Callable[[], dt.datetime] = utcnow
    #: per-protocol runtime objects, built by their modules (None when switched off)
    protocols: Protocols = field(default_factory=Protocols)

    def now(self) -> dt.datetime:
        return self.clock()

    def close(self) -> None:
        """Stop cleanly: queued audit rows are written, refreshers and the push sender stop, pools
        are released."""
        self.audit.flush()
        self.authenticator.close()
        if self.protocols.saml is not None:
            self.protocols.saml.stop()
        self.ephemeral.close()
        self.db.engine.dispose()


def build_runtime(
    config: IdpConfig, *, clock: Callable[[], dt.datetime] = utcnow, run_migrations: bool = True
) -> Runtime:
    current = load_signing_key(config.signing_key.key, config.signing_key.cert)
    upcoming = None
    if config.next_signing_key is not None:
        upcoming = load_signing_key(config.next_signing_key.key, config.next_signing_key.cert)
    keys = KeySet(current=current, next=upcoming)
    db = open_database(config.database_url)
    if run_migrations:
        migrate(db.engine)
    ephemeral = open_ephemeral(config.ephemeral_url)
    ephemeral.ping()  # refuse to start against a store that is not there
    employees = EmployeeRepository(db)
    # Commands that leave the schema alone (check-config, audit …) need no secrets either.
    box = (
        unlock_secrets(
            master_key=config.master_key,
            environ=os.environ,
            keys=SecretKeyRepository(db),
            now=clock(),
        )
        if run_migrations
        else SecretBox()
    )
    runtime = Runtime(
        config=config,
        keys=keys,
        xml_signer=XmlSigner(current),
        db=db,
        ephemeral=ephemeral,
        sessions=SessionStore(
            ephemeral,
            idle_timeout=config.session.idle_timeout,
            absolute_lifetime=config.session.absolute_lifetime,
            record_version=config.session.record_version,
        ),
        employees=employees,
        passkeys=PasskeyRepository(db),
        enrolment=EnrolmentRepository(db),
        audit=AuditRepository(db),
        passwords=PasswordRepository(db),
        password_params=prepare_hashing(
            params=config.passwords.argon2, target_ms=config.passwords.target_ms
        ),
        directory=EmployeeCache(employees, ttl=config.directory_cache_seconds),
        tickets=Tickets(ephemeral),
        secrets=box,
        authenticator=build_authenticator(config.authenticator, db=db, secrets=box),
        clock=clock,
    )
    if config.observability.metrics:
        from idp import metrics

        metrics.track_audit(runtime.audit)
    # Audit events queued for the background writer are stored before the process exits.
    atexit.register(runtime.audit.flush)
    if run_migrations:  # a process that serves (either shell) sends the queued pushes
        runtime.authenticator.start_sending(ephemeral, clock=clock)
    from idp.protocols import build_protocols

    runtime.protocols = build_protocols(runtime)
    return runtime


_SHARED: dict[Path, Runtime] = {}
_SHARED_LOCK = threading.Lock()


def shared_runtime(config_path: str | Path) -> Runtime:
    """The process's one runtime for ``config_path``, built (and migrated) on first use.

    SATOSA loads each plugin separately; they all call this, so one process opens one
    database pool and one store client, loads the keys once and migrates once.
    """
    from idp.config.loader import load_config

    path = Path(config_path).resolve()
    with _SHARED_LOCK:
        runtime = _SHARED.get(path)
        if runtime is None:
            runtime = _SHARED[path] = build_runtime(load_config(path))
        return runtime
