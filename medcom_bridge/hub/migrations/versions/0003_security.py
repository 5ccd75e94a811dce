"""API tokens and the append-only audit log (the database refuses UPDATE and DELETE of audit rows)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 21:00:00

"""

from collections.abc import Sequence

from alembic import op

from medcom_bridge.security import schema

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema.upgrade(op.get_bind())


def downgrade() -> None:
    schema.downgrade(op.get_bind())
