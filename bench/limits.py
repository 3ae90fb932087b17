"""This machine's limit for a path, measured in the same run as the figure it accompanies.

A path's limit is one over (its requests × one trivial request's time + its signatures × one
signature's time): the trivial request is a one-line Flask view served exactly as the IdP is
(gunicorn, one sync worker on the server CPU, load from the other CPU); the signatures are
timed in a process pinned to the server CPU with the keys the IdP uses. A figure's share of
its limit is what is left to win on this machine, whatever its raw speed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bench import http_load

Operation = Callable[[], object]


@dataclass(frozen=True)
class Costs:
    """Seconds per trivial request and per cryptographic operation, on the server CPU."""

    request: float
    operations: Mapping[str, float]

    def limit(self, *, requests: int, **operations: int) -> float:
        """Answers per second a path could reach here if nothing but these costs remained."""
        seconds = requests * self.request
        seconds += sum(count * self.operations[name] for name, count in operations.items())
        return 1.0 / seconds


def of_limit(figure: float, limit: float) -> str:
    return f"of limit: {100 * figure / limit:3.0f}%  (limit {limit:,.0f}/s)"


def _timed(operation: Operation, seconds: float, cpus: set[int], out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.sched_setaffinity(0, cpus)
    count, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < seconds:
        for _ in range(20):
            operation()
        count += 20
    out.put((time.perf_counter() - begin) / count)


def time_per_call(operation: Operation, *, cpus: set[int], seconds: float = 1.0) -> float:
    """Seconds per call of ``operation`` in a fresh process pinned to ``cpus``."""
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    process = mp.get_context("fork").Process(target=_timed, args=(operation, seconds, cpus, queue))
    process.start()
    result: float = queue.get()
    process.join()
    return result


def crypto_operations(key_pem: bytes) -> dict[str, Operation]:
    """The unavoidable operations: RSA sign/verify with the IdP's key, ES256 verify (WebAuthn)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    message = b"x" * 64
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_signature = ec_key.sign(message, ec.ECDSA(hashes.SHA256()))
    ec_public = ec_key.public_key()
    return {
        "rsa_sign": lambda: key.sign(message, padding.PKCS1v15(), hashes.SHA256()),
        "rsa_verify": lambda: public.verify(
            signature, message, padding.PKCS1v15(), hashes.SHA256()
        ),
        "es256_verify": lambda: ec_public.verify(ec_signature, message, ec.ECDSA(hashes.SHA256())),
    }


def measure(
    *,
    key_path: Path,
    start_server: Callable[[int], object],
    stop_server: Callable[[object], None],
    port: int,
    server_cpus: set[int],
    client_cpus: set[int],
    seconds: float,
) -> Costs:
    """The trivial request's time (through HTTP, as the IdP is served) and each operation's."""
    server = start_server(port)
    try:
        rate = http_load.run(
            "127.0.0.1",
            port,
            ["/ping"] * int(5000 * seconds),
            headers={},
            workers=3,
            cpus=client_cpus,
            seconds=seconds,
        )
    finally:
        stop_server(server)
    operations = crypto_operations(key_path.read_bytes())
    costs = {name: time_per_call(op, cpus=server_cpus) for name, op in operations.items()}
    return Costs(request=1.0 / rate, operations=costs)
