"""The link over TLS (``wss://``): a gateway that trusts the server's CA connects; one that
does not refuses the server and keeps its events spooled."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flask_idp.link_server import LinkServer, tls_context
from idp.store.ephemeral import MemoryStore
from idp.store.sql import Database
from idp.workstations.model import WorkstationStatus
from tests.e2e.workstations.harness import ADMIN, Site, free_port, until


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / "link.key", directory / "link.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def test_gateway_connects_over_tls_only_to_a_server_it_trusts(
    sqlite_db: Database, tmp_path: Path
) -> None:
    key_file, cert_file = _certificate(tmp_path)
    site = Site(sqlite_db, MemoryStore(), tmp_path)

    async def scenario() -> None:
        link = LinkServer(site.service(), site.store)
        port = free_port()
        server = await link.start("127.0.0.1", port, tls=tls_context(str(cert_file), str(key_file)))
        url = f"wss://127.0.0.1:{port}/"
        trusting = site.agent("pc-tls", url, tls=ssl.create_default_context(cafile=str(cert_file)))
        doubting = site.agent("pc-doubt", url, tls=ssl.create_default_context())
        ws_id = trusting.gateway.identity.workstation_id
        await until(lambda: site.registry.get(ws_id) is not None, what="registration over TLS")
        site.admin.set_status(
            actor=ADMIN, workstation_id=ws_id, status=WorkstationStatus.APPROVED, now=site.clock()
        )
        await until(trusting.gateway.connected.is_set, what="welcome over TLS")
        await until(lambda: len(trusting.gateway.spool) == 0)
        await asyncio.sleep(0.3)
        assert site.registry.list().total == 1, "a gateway registered with an untrusted server"
        assert len(doubting.gateway.spool) >= 1  # its events wait
        for agent in (trusting, doubting):
            await agent.shutdown()
        await link.stop(server)

    asyncio.run(scenario())
