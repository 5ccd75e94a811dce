"""Payload bytes move to the content-addressed blob store; each stored message keeps its identification

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 20:50:00

`hub_payloads.data` becomes optional: new payloads live on disk (`hub.blobs.BlobStore`), rows keep digest and
size; rows written before keep their bytes and are still read. `hub_messages` keeps what identification found
(version, valid, the rule ids of its errors) so nothing is parsed again to answer "what was it".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_payloads") as batch:
        batch.alter_column("data", existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table("hub_messages") as batch:
        batch.add_column(sa.Column("version", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("valid", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("rules", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_messages") as batch:
        batch.drop_column("rules")
        batch.drop_column("valid")
        batch.drop_column("version")
    with op.batch_alter_table("hub_payloads") as batch:
        batch.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
