"""Add many users to a *stopped* Samba DC's database in one transaction per thousand users.

Run with the system Python (Samba's own bindings, Debian ``python3-samba``), not the venv:
``/usr/bin/python3 tests/samba_bulk_users.py <smb.conf> <count> <group>``. Over LDAP each add
costs a round trip and its own transaction (~50–80 ms here); this is what makes a 20,000-user
directory for bench/sync.py affordable to build once.
"""

import sys

import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

BATCH = 1000


def main(conf: str, count: int, group: str) -> None:
    lp = LoadParm()
    lp.load(conf)
    db = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp)
    base = str(db.domain_dn())
    group_dn = f"CN={group},CN=Users,{base}"
    db.add({"dn": group_dn, "objectClass": ["top", "group"], "sAMAccountName": group})
    for start in range(0, count, BATCH):
        db.transaction_start()
        members = []
        for i in range(start, min(start + BATCH, count)):
            uid = f"b{i:05d}"
            dn = f"CN={uid},CN=Users,{base}"
            db.add(
                {
                    "dn": dn,
                    "objectClass": ["top", "person", "organizationalPerson", "user"],
                    "sAMAccountName": uid,
                    "userPrincipalName": f"{uid}@hideez.test",
                    "mail": f"{uid}@corp.example",
                    "givenName": "Bench",
                    "sn": f"User {i}",
                    "company": "Hideez",
                    "department": f"Dept {i % 20}",
                    "title": f"Role {i % 50}",
                    "telephoneNumber": "+44 20 7946 0958",
                    "userAccountControl": str(0x220),
                }
            )
            members.append(dn)
        message = ldb.Message()
        message.dn = ldb.Dn(db, group_dn)
        message["member"] = ldb.MessageElement(members, ldb.FLAG_MOD_ADD, "member")
        db.modify(message)
        db.transaction_commit()
        print(f"  {start + len(members):,} users", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
