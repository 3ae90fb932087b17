"""Directory sync from a real Samba AD DC: a full import of 20,000 users and an incremental sync
of 1,000 changes, each beside ldap3's raw paged-search read of the same entries in the same run
(the limit: the sync cannot be faster than reading its input).

The 20,000-user directory is built once (Samba adds ~5 ms per user, and more as it grows) and
kept as a golden copy beside the test suite's (tests/samba_dc.py); later runs copy it. The
import goes into a fresh SQLite database through ``run_sync`` (audit, org units, groups,
links: everything a real run does). Goal: full import >= 50% of the raw read rate.

Run: .venv/bin/python bench/sync.py [--users N] [--build-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ldap3  # noqa: E402

from bench.limits import of_limit  # noqa: E402
from flask_idp.demo import prepare  # noqa: E402
from idp.config.directory import LdapSource  # noqa: E402
from idp.config.loader import load_config  # noqa: E402
from idp.directory.sync.ldap_source import LdapDirectory  # noqa: E402
from idp.directory.sync.records import Action  # noqa: E402
from idp.directory.sync.service import run_sync  # noqa: E402
from idp.runtime import build_runtime  # noqa: E402
from tests import samba_dc as ad  # noqa: E402

GROUP = "Hideez Users Sync"
PAGE = 1000
CHANGES = 1000


def build(users: int) -> Path:
    """The golden copy with ``users`` users in the scoping group (built once, then cached)."""
    name = f"bench-{users}"
    root = ad.cached(name)
    if root is not None:
        return root
    print(f"building {users:,} users once (cached under {ad.CACHE}) ...", flush=True)
    work = Path(tempfile.mkdtemp())
    target = ad.copy_to(ad.golden_copy(), work)
    script = ROOT / "tests" / "samba_bulk_users.py"
    conf = target / "etc" / "smb.conf"
    subprocess.run(["/usr/bin/python3", str(script), str(conf), str(users), GROUP], check=True)
    golden = ad.golden_path(name)
    shutil.rmtree(golden, ignore_errors=True)
    (target / "ready").write_text(str(target))
    shutil.move(str(target), golden)
    return golden


def raw_read(dc: ad.SambaDC, source: LdapSource, query: str) -> tuple[int, float]:
    """ldap3 alone: the same filter, attributes and page size, entries parsed by ldap3."""
    directory = LdapDirectory(source, password=ad.ADMIN_PASSWORD)
    attributes = directory.attributes()
    directory.close()
    conn = dc.connect()
    started = time.perf_counter()
    count = 0
    for entry in conn.extend.standard.paged_search(
        source.base_dn, query, attributes=attributes, paged_size=PAGE, generator=True
    ):
        count += entry["type"] == "searchResEntry"
    elapsed = time.perf_counter() - started
    conn.unbind()
    return count, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    golden = build(args.users)
    if args.build_only:
        return 0
    work = Path(tempfile.mkdtemp())
    with ad.running_dc(work / "samba", golden=golden) as dc:
        os.environ["BENCH_AD_PASSWORD"] = ad.ADMIN_PASSWORD
        config = prepare(work / "idp", port=18097, sp_port=18098)
        config.write_text(
            config.read_text()
            + f"""
directory:
  sources:
    - name: bench
      kind: ldap
      url: ldaps://localhost:{dc.port}
      ca_file: {dc.ca_file}
      bind_user: {ad.ADMIN}
      bind_password: {{env: BENCH_AD_PASSWORD}}
      base_dn: {dc.base_dn}
      page_size: {PAGE}
"""
        )
        runtime = build_runtime(load_config(config))
        source = runtime.config.directory.sources[0]  # type: ignore[union-attr]
        assert isinstance(source, LdapSource)
        directory = LdapDirectory(source, password=ad.ADMIN_PASSWORD)
        query = directory.user_filter(directory.group_dn(GROUP))
        directory.close()

        raw_count, raw_time = raw_read(dc, source, query)
        started = time.perf_counter()
        full = run_sync(runtime, source)
        full_time = time.perf_counter() - started
        assert full.count(Action.CREATE) == raw_count == args.users, (
            full.count(Action.CREATE),
            raw_count,
        )

        conn = dc.connect()
        usn_before = int(_root_usn(conn))
        changes = min(CHANGES, args.users)
        for i in range(0, changes * (args.users // changes), args.users // changes):
            ad.set_attributes(conn, ad.user_dn(f"b{i:05d}"), title=f"Changed {i}")
        conn.unbind()
        changed_query = f"(&{query}(uSNChanged>={usn_before + 1}))"
        inc_raw_count, inc_raw_time = raw_read(dc, dataclasses.replace(source), changed_query)
        started = time.perf_counter()
        incremental = run_sync(runtime, source)
        inc_time = time.perf_counter() - started
        assert incremental.mode == "incremental" and incremental.count(Action.UPDATE) == changes
        runtime.close()

    raw_rate, full_rate = raw_count / raw_time, args.users / full_time
    inc_raw_rate, inc_rate = inc_raw_count / inc_raw_time, changes / inc_time
    print(f"Directory sync from Samba AD ({args.users:,} users, page size {PAGE}, SQLite)")
    print(f"  ldap3 paged search alone (limit)   {raw_rate:8,.0f} users/s  ({raw_time:.1f} s)")
    print(f"  full import (run_sync)             {full_rate:8,.0f} users/s  ({full_time:.1f} s)")
    print(
        f"  ratio                              {full_rate / raw_rate:8.1f}x  "
        f"{of_limit(full_rate, raw_rate)}  (goal >= 50%)"
    )
    print(
        f"  incremental: {changes:,} changes; ldap3 read alone {inc_raw_rate:,.0f} users/s "
        f"({inc_raw_time:.2f} s)"
    )
    print(f"  incremental sync                   {inc_rate:8,.0f} users/s  ({inc_time:.2f} s)")
    print(
        f"  ratio                              {inc_rate / inc_raw_rate:8.1f}x  "
        f"{of_limit(inc_rate, inc_raw_rate)}"
    )
    return 0


def _root_usn(conn: ldap3.Connection) -> str:
    conn.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["highestCommittedUSN"])
    return str(conn.response[0]["raw_attributes"]["highestCommittedUSN"][0].decode())


if __name__ == "__main__":
    sys.exit(main())
