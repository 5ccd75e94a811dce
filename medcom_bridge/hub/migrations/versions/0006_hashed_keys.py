"""hub_keys keeps the SHA-256 of each key, never the value (a sender's id may be a CPR number)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 22:30:00

"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rewritten in place, in batches (the same digest as `store.key_digest`, restated here: a migration
    # must keep meaning what it meant when it was written).
    conn = op.get_bind()
    keys = sa.table("hub_keys", sa.column("id", sa.Integer), sa.column("namespace"), sa.column("value"))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(keys.c.id, keys.c.namespace, keys.c.value)
            .where(keys.c.id > last)
            .order_by(keys.c.id)
            .limit(5000)
        ).all()
        if not rows:
            break
        for row_id, namespace, value in rows:
            digest = hashlib.sha256(f"{namespace}\x00{value}".encode()).hexdigest()
            conn.execute(sa.update(keys).where(keys.c.id == row_id).values(value=digest))
        last = rows[-1][0]


def downgrade() -> None:
    # A digest cannot be turned back into its value: the digests stay. Code from before this revision then
    # no longer recognises the keys stored so far (a resent letter would be taken as new).
    pass
