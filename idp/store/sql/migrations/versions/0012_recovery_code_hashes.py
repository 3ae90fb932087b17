"""Admin recovery codes: the SHA-256 digests 0011 stored become tagged argon2id records.

A digest of an 8-character code is no obstacle to guessing it from a copied database. Each
stored digest ``d`` becomes ``d[:2] + "$" + argon2id(d)`` — what
:func:`idp.admin.signin.recovery_record` makes of a new code (it hashes the same digest), so
every code an admin holds keeps working. The costs are OWASP's minimum for argon2id (a
migration has no measured costs; the codes carry far more entropy than passwords).

The downgrade cannot turn a hash back into a digest: it drops the codes (an admin makes new
ones with ``hideez-idp admin-user recovery-codes``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from idp.factors.password import OWASP_MINIMUM, hash_password

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TAG = 2
_CREDENTIALS = sa.table(
    "admin_credentials", sa.column("admin_id", sa.String), sa.column("recovery_codes", sa.JSON)
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_CREDENTIALS.c.admin_id, _CREDENTIALS.c.recovery_codes))
    for admin_id, codes in rows.all():
        records = [
            code
            if "$" in code
            else f"{code[:_TAG]}${hash_password(password=code, params=OWASP_MINIMUM)}"
            for code in codes or []
        ]
        if records != codes:
            bind.execute(
                _CREDENTIALS.update()
                .where(_CREDENTIALS.c.admin_id == admin_id)
                .values(recovery_codes=records)
            )


def downgrade() -> None:
    op.get_bind().execute(_CREDENTIALS.update().values(recovery_codes=[]))
