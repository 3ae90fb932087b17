"""A small closed-loop HTTP load generator (stdlib http.client, keep-alive, N processes).

Each worker process pins itself to the given CPUs and sends its own list of requests
(single-use SAML request ids and OIDC codes cannot be replayed), counting answers with the
expected status. A request is a path (GET) or a :class:`Request`.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def _worker(
    host: str,
    port: int,
    requests: Sequence[str | Request],
    headers: dict[str, str],
    cpus: set[int],
    expect: int,
    seconds: float,
    out: mp.Queue,
) -> None:  # type: ignore[type-arg]
    if cpus:
        os.sched_setaffinity(0, cpus)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    ok = bad = 0
    first_bad = ""
    start = time.perf_counter()
    for item in requests:
        if time.perf_counter() - start > seconds:
            break
        if isinstance(item, str):
            conn.request("GET", item, headers=headers)
        else:
            merged = {**headers, **item.headers}
            conn.request(item.method, item.path, body=item.body, headers=merged)
        response = conn.getresponse()
        body = response.read()
        if response.status == expect:
            ok += 1
        else:
            bad += 1
            first_bad = first_bad or f"{response.status}: {body[:200]!r}"
    out.put((ok, bad, time.perf_counter() - start, first_bad))


def run(
    host: str,
    port: int,
    requests: Sequence[str | Request],
    *,
    headers: dict[str, str],
    workers: int,
    cpus: set[int],
    expect: int = 200,
    seconds: float = 5.0,
) -> float:
    """Answers per second over all workers (each worker gets a slice of ``requests``)."""
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    chunks = [requests[i::workers] for i in range(workers)]
    procs = [
        mp.Process(target=_worker, args=(host, port, chunk, headers, cpus, expect, seconds, queue))
        for chunk in chunks
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    ok = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    if bad:
        sample = next(r[3] for r in results if r[3])
        raise SystemExit(f"{bad} of {ok + bad} requests got another status than {expect}: {sample}")
    if ok == sum(len(c) for c in chunks):
        print(f"  (note: all {ok} prepared requests were used before the time was up)")
    return ok / elapsed
